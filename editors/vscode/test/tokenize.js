// Tokenize a file with the real TextMate engine (vscode-textmate + vscode-oniguruma, as VS Code
// does) and print one JSON line per token: [line, text, scopes]. Used by tests/report/test_highlight.py.
// usage: node tokenize.js GRAMMAR.json FILE
"use strict";
const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

async function main() {
  const [grammarPath, filePath] = process.argv.slice(2);
  const wasm = fs.readFileSync(path.join(path.dirname(require.resolve("vscode-oniguruma")), "onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath),
  });
  const grammar = await registry.loadGrammar("source.netdsl");
  let state = vsctm.INITIAL;
  const lines = fs.readFileSync(filePath, "utf8").split("\n");
  const out = [];
  lines.forEach((line, i) => {
    const result = grammar.tokenizeLine(line, state);
    for (const token of result.tokens) {
      out.push(JSON.stringify([i + 1, line.slice(token.startIndex, token.endIndex), token.scopes]));
    }
    state = result.ruleStack;
  });
  process.stdout.write(out.join("\n") + "\n");
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
