// The VS Code client: starts `netdsl lsp` (the command is the setting netdsl.server.command)
// over standard input and output for every netdsl document.
"use strict";
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("netdsl").get("server.command", ["netdsl", "lsp"]);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient(
    "netdsl",
    "netdsl language server",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "netdsl" }, { scheme: "untitled", language: "netdsl" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
