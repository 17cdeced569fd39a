// Starts `flowc lsp` for .flow files. Everything the editor shows beyond
// highlighting comes from the server; this file only finds and runs it.

import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions } from "vscode-languageclient/node";

let client: LanguageClient | undefined;

function createClient(): LanguageClient {
  const command = vscode.workspace.getConfiguration("flowc").get<string>("path") || "flowc";
  const serverOptions: ServerOptions = {
    run: { command, args: ["lsp"] },
    debug: { command, args: ["lsp"], options: { env: { ...process.env, FLOWC_LSP_TRACE: "1" } } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file", language: "flow" }, { scheme: "untitled", language: "flow" }],
    // Files changed outside the editor (a checkout, another tool) reach the
    // server too; it also registers this watcher itself.
    synchronize: {
      fileEvents: [
        vscode.workspace.createFileSystemWatcher("**/*.flow"),
        // Its `allow` list changes which warnings are shown.
        vscode.workspace.createFileSystemWatcher("**/flowc.toml"),
      ],
    },
  };
  return new LanguageClient("flowc", "flowc", serverOptions, clientOptions);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  client = createClient();
  context.subscriptions.push(
    vscode.commands.registerCommand("flowc.restartServer", async () => {
      if (client) {
        await client.stop();
      }
      client = createClient();
      await client.start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration("flowc.path")) {
        await vscode.commands.executeCommand("flowc.restartServer");
      }
    }),
  );
  try {
    await client.start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    void vscode.window.showErrorMessage(
      `flowc: cannot start \`flowc lsp\` (${message}). Install flowc or set "flowc.path".`,
    );
  }
}

export async function deactivate(): Promise<void> {
  if (client) {
    await client.stop();
  }
}
