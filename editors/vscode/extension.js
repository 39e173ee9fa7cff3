// Starts `centralino lsp` for .flow files; everything else is the server's.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("centralino.server");
  const command = config.get("command") || "centralino";
  const flows = config.get("flows");
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const server = { command, args: ["lsp"], transport: TransportKind.stdio, options: { cwd: folder } };
  client = new LanguageClient(
    "centralino",
    "Centralino",
    { run: server, debug: server },
    {
      documentSelector: [{ scheme: "file", language: "centralino" }],
      initializationOptions: flows ? { flows } : {},
    },
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
