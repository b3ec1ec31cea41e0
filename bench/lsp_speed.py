"""Benchmark of `netdsl lsp` on ResNet-152 (specs/zoo/resnet152.net: 516 layers through an
import) and on a generated flat network of 500 statements (a benchmark: it prints, it asserts
nothing).

1. analysis: the first (imports read and parsed) and again after a one-character change
   (imports neither re-read nor re-parsed: the counts are printed);
2. hover: median and worst time of `features.hover` over every word of the document;
3. inlay hints of the whole document, document symbols;
4. over the protocol (a pygls client talking to `netdsl lsp` in a subprocess, the workspace
   specs/): `initialize` (from spawning the server to its answer), hover, completion at each
   line's end, and references of a block, a parameter and a constant (searching the workspace).

Run: python bench/lsp_speed.py [--repeat N] [--starts N]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from lsprotocol import types as lsp

from netdsl.lsp import features, navigation
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
    navigation.symbols(first, lines)
    print(f"  document symbols: {ms(time.perf_counter() - start)}")


async def start(root: Path) -> tuple[object, float]:
    """A pygls client talking to `netdsl lsp` in a subprocess, and the seconds from spawning the
    server to the answer to `initialize`."""
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("bench", "0")
    started = time.perf_counter()
    await client.start_io(sys.executable, "-m", "netdsl", "lsp")
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), root_uri=root.as_uri()))
    seconds = time.perf_counter() - started
    client.initialized(lsp.InitializedParams())
    return client, seconds


async def stop(client: object) -> None:
    await client.shutdown_async(None)  # type: ignore[attr-defined]
    client.exit(None)  # type: ignore[attr-defined]
    await client.stop()  # type: ignore[attr-defined]


async def timed(calls: list) -> list[float]:  # type: ignore[type-arg]
    times = []
    for call in calls:
        start = time.perf_counter()
        await call()
        times.append(time.perf_counter() - start)
    return times


def summary(times: list[float]) -> str:
    return f"median {ms(statistics.median(times))}, worst {ms(max(times))} over {len(times)}"


async def over_the_protocol(text: str, path: Path, samples: int, starts: int) -> None:
    root = path.resolve().parent.parent  # specs/: the workspace references search
    inits = []
    for _ in range(starts):
        client, seconds = await start(root)
        inits.append(seconds)
        await stop(client)
    floor = []
    for _ in range(starts):  # the peer: a Python that only imports pygls's server (lsprotocol with it)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pygls.lsp.server"], check=True)
        floor.append(time.perf_counter() - started)
    print(
        f"  initialize (spawn to answer): median {ms(statistics.median(inits))}, best {ms(min(inits))} of {starts}; "
        f"python importing pygls alone: median {ms(statistics.median(floor))} "
        f"(ratio {statistics.median(inits) / statistics.median(floor):.2f})"
    )
    client, _ = await start(root)
    uri = path.resolve().as_uri()
    doc = lsp.TextDocumentIdentifier(uri)
    start_open = time.perf_counter()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "netdsl", 1, text)))
    await client.text_document_hover_async(lsp.HoverParams(doc, lsp.Position(0, 0)))
    opened = time.perf_counter() - start_open
    print(f"  open + first answer: {ms(opened)}")
    positions = word_positions(text)[:samples]
    hovers = await timed([lambda p=p: client.text_document_hover_async(lsp.HoverParams(doc, p)) for p in positions])
    print(f"  hover round trip: {summary(hovers)}")
    ends = [lsp.Position(n, len(line)) for n, line in enumerate(text.split("\n")) if line.strip()]
    completions = await timed(
        [lambda p=p: client.text_document_completion_async(lsp.CompletionParams(doc, p)) for p in ends]
    )
    print(f"  completion round trip (each line's end): {summary(completions)}")
    words = [(n, m) for n, line in enumerate(text.split("\n")) for m in re.finditer(r"Bottleneck|planes|depths", line)]
    context = lsp.ReferenceContext(include_declaration=True)
    refs = await timed(
        [
            lambda n=n, m=m: client.text_document_references_async(
                lsp.ReferenceParams(context=context, text_document=doc, position=lsp.Position(n, m.start() + 1))
            )
            for n, m in words
        ]
        * 5
    )
    n, m = next((n, m) for n, m in words if m.group() == "Bottleneck")
    where = lsp.Position(n, m.start() + 1)
    found = await client.text_document_references_async(
        lsp.ReferenceParams(context=context, text_document=doc, position=where)
    )
    files = {loc.uri for loc in found or []}
    print(
        f"  references round trip (Bottleneck, planes, depths; workspace {root.name}/): {summary(refs)}; "
        f"Bottleneck: {len(found or [])} places in {len(files)} files"
    )
    await stop(client)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--starts", type=int, default=5, help="server starts timed for initialize")
    args = parser.parse_args()
    text = RESNET.read_text(encoding="utf-8")
    in_process("ResNet-152 (specs/zoo/resnet152.net)", text, str(RESNET), args.repeat)
    asyncio.run(over_the_protocol(text, RESNET, 200, args.starts))
    flat = flat_spec(500)
    in_process("flat network, 500 statements", flat, str(ROOT / "bench" / "flat500.net"), args.repeat)


if __name__ == "__main__":
    main()
