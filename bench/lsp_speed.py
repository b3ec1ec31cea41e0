"""Benchmark of `netdsl lsp` on ResNet-152 (specs/zoo/resnet152.net: 516 layers through an
import) and on a generated flat network of 500 statements (a benchmark: it prints, it asserts
nothing).

1. analysis: the first (imports read and parsed) and again after a one-character change
   (imports neither re-read nor re-parsed: the counts are printed);
2. hover: median and worst time of `features.hover` over every word of the document, and the
   same requests over the protocol (a pygls client talking to `netdsl lsp` in a subprocess);
3. inlay hints of the whole document, document symbols.

Run: python bench/lsp_speed.py [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as lsp

from netdsl.lsp import features
from netdsl.lsp.analysis import ImportCache, analyze
from netdsl.lsp.positions import Lines

ROOT = Path(__file__).resolve().parent.parent
RESNET = ROOT / "specs" / "zoo" / "resnet152.net"


def flat_spec(statements: int) -> str:
    lines = ["network Flat {", "    input image: [16, 32, 32]"]
    for i in range(statements // 2):
        lines.append(f"    c{i}: conv(16, 3, padding=1) -> b{i}: batchnorm")
        lines.append(f"    r{i}: relu")
    lines.append("}")
    return "\n".join(lines) + "\n"


def word_positions(text: str) -> list[lsp.Position]:
    """The second character of every word outside comments (a comment answers no hover)."""
    return [
        lsp.Position(n, m.start() + 1)
        for n, line in enumerate(text.split("\n"))
        for m in re.finditer(r"[A-Za-z_]\w*", line.split("#")[0])
    ]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def in_process(name: str, text: str, file: str, repeat: int) -> None:
    cache = ImportCache()
    first = analyze(text, file, cache)
    reads, parses = cache.reads, cache.parses
    changed = text.replace("classes = 1000", "classes = 999") if "classes = 1000" in text else text + "\n"
    again = [analyze(changed if i % 2 == 0 else text, file, cache).seconds for i in range(repeat)]
    layers = sum(len(o.checked.layers) for o in first.outcomes.values() if o.checked)
    print(f"{name}: {layers} layers")
    print(f"  analysis, first: {ms(first.seconds)} ({reads} imported files read, {parses} parsed)")
    print(
        f"  analysis after a change: median {ms(statistics.median(again))} "
        f"(imports read since: {cache.reads - reads}, parsed since: {cache.parses - parses})"
    )
    lines = Lines.of(text)
    times = []
    for position in word_positions(text):
        start = time.perf_counter()
        features.hover(first, lines, position)
        times.append(time.perf_counter() - start)
    print(f"  hover over {len(times)} words: median {ms(statistics.median(times))}, worst {ms(max(times))}")
    whole = lsp.Range(lsp.Position(0, 0), lsp.Position(len(lines.lines), 0))
    start = time.perf_counter()
    hints = features.inlay_hints(first, lines, whole)
    print(f"  inlay hints ({len(hints)}): {ms(time.perf_counter() - start)}")
    start = time.perf_counter()
    features.symbols(first, lines)
    print(f"  document symbols: {ms(time.perf_counter() - start)}")


async def over_the_protocol(text: str, path: Path, samples: int) -> None:
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("bench", "0")
    await client.start_io(sys.executable, "-m", "netdsl", "lsp")
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
    client.initialized(lsp.InitializedParams())
    uri = path.resolve().as_uri()
    start = time.perf_counter()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "netdsl", 1, text)))
    await client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(uri), lsp.Position(0, 0)))
    opened = time.perf_counter() - start
    positions = word_positions(text)[:samples]
    times = []
    for position in positions:
        start = time.perf_counter()
        await client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(uri), position))
        times.append(time.perf_counter() - start)
    print(
        f"  over the protocol: open + first answer {ms(opened)}; hover round trip over {len(times)} words: "
        f"median {ms(statistics.median(times))}, worst {ms(max(times))}"
    )
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    text = RESNET.read_text(encoding="utf-8")
    in_process("ResNet-152 (specs/zoo/resnet152.net)", text, str(RESNET), args.repeat)
    asyncio.run(over_the_protocol(text, RESNET, 200))
    flat = flat_spec(500)
    in_process("flat network, 500 statements", flat, str(ROOT / "bench" / "flat500.net"), args.repeat)


if __name__ == "__main__":
    main()
