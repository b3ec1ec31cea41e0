# Source from the project root on the GPU machine (bench/gpu.sh does): installs the carried
# onnxruntime-gpu, lark (and onnxscript/onnx_ir wheels, if carried and missing) from .gpu/ into
# .gpu/site, puts the project on PYTHONPATH, and points the loader at the CUDA and cuDNN libraries
# that PyTorch's wheels brought. A copy of ../shared/gpu/gpu_env.sh (shared/ does not travel).
mkdir -p "$PWD/.gpu/site"
[ -d "$PWD/.gpu/site"/onnxruntime ] || tar xJf .gpu/ort.tar.xz -C "$PWD/.gpu/site"
[ -d "$PWD/.gpu/site"/lark ] || python3 -m pip install -q --no-index --no-deps --no-compile --target "$PWD/.gpu/site" .gpu/lark*.whl
if ! python3 -c 'import onnxscript' 2>/dev/null; then
  if ls .gpu/onnxscript*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target "$PWD/.gpu/site" .gpu/onnxscript*.whl .gpu/onnx_ir*.whl
  else
    echo "gpu_env: onnxscript is not installed and no wheel is carried in .gpu/: the dynamo exporter's figures are skipped"
  fi
fi
_sp=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$(find "$_sp/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | tr '\n' ':')${LD_LIBRARY_PATH:-}
export PYTHONPATH="$PWD/.gpu/site":$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg
python3 -c "import onnxruntime as o, torch; print('onnxruntime', o.__version__, o.get_available_providers(), '| torch', torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"
