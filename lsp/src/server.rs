//! The protocol side: `tower-lsp-server` handlers that forward every
//! notification and request to the state thread, in arrival order.
//!
//! Order matters: tower-lsp-server polls handler futures concurrently, but
//! polls each one first in arrival order, and every handler here enqueues
//! its event before its first `.await`. So the state thread sees edits and
//! requests exactly in the order the client sent them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use salsa::Database as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::UnboundedReceiver;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types as lsp;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use crate::Config;
use crate::convert::{self, TextRef};
use crate::framing;
use crate::ide;
use crate::ide::File;
use crate::snapshot::Snapshot;
use crate::state::{Event, Job, Outgoing, State, run_cancellable};

/// Serves the protocol on a pair of streams until `exit`. Returns whether
/// `shutdown` came before `exit`.
pub async fn serve<I, O>(input: I, output: O, config: Config) -> bool
where
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    let shut_down = Arc::new(AtomicBool::new(false));
    let flag = shut_down.clone();
    let (service, socket) = LspService::build(move |client| Backend::start(client, config, flag))
        .custom_method(framing::INVALID_MESSAGE, Backend::invalid_message)
        .finish();
    // Requests wait on workers, not on each other: a slow one must not hold
    // up the edits queued behind it.
    Server::new(framing::Guard::new(input), output, socket).concurrency_level(64).serve(service).await;
    shut_down.load(Ordering::SeqCst)
}

struct Backend {
    /// The state thread's queue. A `Mutex` because the handlers only need
    /// `&self` and `Sender` is not `Sync` on every supported toolchain.
    events: Mutex<mpsc::Sender<Event>>,
    client: Client,
    config: Config,
    shut_down: Arc<AtomicBool>,
}

impl Backend {
    fn start(client: Client, config: Config, shut_down: Arc<AtomicBool>) -> Backend {
        let (events_tx, events_rx) = mpsc::channel();
        let (out_tx, out_rx) = tokio::sync::mpsc::unbounded_channel();
        let state = State::new(out_tx, events_tx.clone(), config.trace);
        if let Err(e) = std::thread::Builder::new().name("flowc-lsp-state".into()).spawn(move || state.run(events_rx)) {
            eprintln!("flowc lsp: cannot start the state thread: {e}");
        }
        tokio::spawn(publish(client.clone(), out_rx));
        Backend { events: Mutex::new(events_tx), client, config, shut_down }
    }

    /// Stands in for a message the client sent that was no JSON-RPC
    /// message at all (see [`framing`]): answered with the error it earned.
    async fn invalid_message(&self, params: serde_json::Value) -> Result<()> {
        let code = params["code"].as_i64().unwrap_or(-32600);
        let reason = params["reason"].as_str().unwrap_or("invalid message").to_string();
        Err(Error { code: code.into(), message: reason.into(), data: None })
    }

    fn send(&self, event: Event) {
        if let Ok(events) = self.events.lock() {
            let _ = events.send(event);
        }
    }

    /// Runs `f` on a snapshot taken after every event received before this
    /// request, on a worker thread.
    async fn request<T: Send + 'static>(&self, f: impl FnOnce(&Snapshot) -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let token: Arc<Mutex<Option<salsa::CancellationToken>>> = Arc::default();
        let slot = token.clone();
        let delay = self.config.request_delay;
        let job: Job = Box::new(move |snapshot: Snapshot| {
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(snapshot.world().db.cancellation_token());
            }
            if let Some(delay) = delay {
                std::thread::sleep(delay);
            }
            // Cancelled before it started: nobody waits for the answer.
            if tx.is_closed() {
                return;
            }
            // Stale: an edit came while it ran (and left it behind if it
            // would not stop), so the answer is for a text that is gone.
            let _ = tx.send(run_cancellable(|| f(&snapshot)).ok().filter(|_| !snapshot.is_stale()));
        });
        self.send(Event::Request(job));
        let mut guard = CancelOnDrop { token, armed: true };
        let result = rx.await;
        guard.armed = false;
        match result {
            Ok(Some(value)) => Ok(value),
            // An edit came while the request ran: its answer would describe
            // a text that no longer exists.
            Ok(None) => Err(Error::content_modified()),
            // The worker panicked: a bug, answered as one.
            Err(_) => Err(Error::internal_error()),
        }
    }
}

/// Stops a request's worker when tower-lsp-server drops the request's
/// future, which it does on `$/cancelRequest` (answering `RequestCancelled`).
struct CancelOnDrop {
    token: Arc<Mutex<Option<salsa::CancellationToken>>>,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed
            && let Ok(Some(token)) = self.token.lock().as_deref() {
                token.cancel();
            }
    }
}

/// Sends what the state thread produced, one message at a time, in order.
async fn publish(client: Client, mut out: UnboundedReceiver<Outgoing>) {
    while let Some(message) = out.recv().await {
        match message {
            Outgoing::Publish { uri, diagnostics, version } => client.publish_diagnostics(uri, diagnostics, version).await,
            Outgoing::Log(line) => client.log_message(lsp::MessageType::LOG, line).await,
        }
    }
}

fn workspace_roots(params: &lsp::InitializeParams) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = params
        .workspace_folders
        .iter()
        .flatten()
        .filter_map(|f| f.uri.to_file_path().map(|p| p.into_owned()))
        .collect();
    #[allow(deprecated)]
    if roots.is_empty()
        && let Some(root) = params.root_uri.as_ref().and_then(|u| u.to_file_path()) {
            roots.push(root.into_owned());
        }
    roots
}

fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(lsp::TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
            ..Default::default()
        })),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        document_highlight_provider: Some(lsp::OneOf::Left(true)),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(vec![".".into(), "$".into(), "{".into(), "`".into()]),
            ..Default::default()
        }),
        rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions { prepare_provider: Some(true), work_done_progress_options: Default::default() })),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Options(lsp::CodeActionOptions {
            code_action_kinds: Some(vec![lsp::CodeActionKind::QUICKFIX]),
            ..Default::default()
        })),
        document_formatting_provider: Some(lsp::OneOf::Left(true)),
        semantic_tokens_provider: Some(lsp::SemanticTokensServerCapabilities::SemanticTokensOptions(lsp::SemanticTokensOptions {
            legend: convert::legend(),
            full: Some(lsp::SemanticTokensFullOptions::Bool(true)),
            range: None,
            work_done_progress_options: Default::default(),
        })),
        ..Default::default()
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: lsp::InitializeParams) -> Result<lsp::InitializeResult> {
        self.send(Event::Initialize { roots: workspace_roots(&params) });
        Ok(lsp::InitializeResult {
            capabilities: capabilities(),
            server_info: Some(lsp::ServerInfo { name: "flowc".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
            ..Default::default()
        })
    }

    async fn initialized(&self, _: lsp::InitializedParams) {
        // Files created, changed or deleted outside the editor (a `git
        // checkout`, another tool) must reach the project too.
        let options = lsp::DidChangeWatchedFilesRegistrationOptions {
            // `flowc.toml` too: its `allow` list changes what is published.
            watchers: vec![
                lsp::FileSystemWatcher { glob_pattern: lsp::GlobPattern::String("**/*.flow".into()), kind: None },
                lsp::FileSystemWatcher { glob_pattern: lsp::GlobPattern::String("**/flowc.toml".into()), kind: None },
            ],
        };
        let registration = lsp::Registration {
            id: "flowc-watch-flow-files".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(options).ok(),
        };
        // A client without dynamic registration says so with an error; it
        // may still send the notifications on its own (VS Code's
        // `synchronize.fileEvents`). Not awaited here: a client that never
        // answers must not keep this handler, and so `exit`, waiting.
        let client = self.client.clone();
        tokio::spawn(async move {
            let _ = client.register_capability(vec![registration]).await;
        });
    }

    async fn shutdown(&self) -> Result<()> {
        self.shut_down.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn did_open(&self, params: lsp::DidOpenTextDocumentParams) {
        let doc = params.text_document;
        self.send(Event::Open { uri: doc.uri, version: doc.version, text: doc.text });
    }

    async fn did_change(&self, params: lsp::DidChangeTextDocumentParams) {
        let received = Instant::now();
        let doc = params.text_document;
        self.send(Event::Change { uri: doc.uri, version: doc.version, changes: params.content_changes, received });
    }

    async fn did_close(&self, params: lsp::DidCloseTextDocumentParams) {
        self.send(Event::Close { uri: params.text_document.uri });
    }

    async fn did_change_watched_files(&self, params: lsp::DidChangeWatchedFilesParams) {
        self.send(Event::Watched { changes: params.changes });
    }

    async fn hover(&self, params: lsp::HoverParams) -> Result<Option<lsp::Hover>> {
        let at = params.text_document_position_params;
        self.request(move |s| {
            let (file, text, offset) = at_position(s, &at.text_document.uri, at.position)?;
            ide::hover::hover(s.world(), file, offset).map(|h| convert::hover(text, h))
        })
        .await
    }

    async fn goto_definition(&self, params: lsp::GotoDefinitionParams) -> Result<Option<lsp::GotoDefinitionResponse>> {
        let at = params.text_document_position_params;
        self.request(move |s| {
            let (file, _, offset) = at_position(s, &at.text_document.uri, at.position)?;
            convert::definition(s, &ide::navigate::definition(s.world(), file, offset)?)
        })
        .await
    }

    async fn references(&self, params: lsp::ReferenceParams) -> Result<Option<Vec<lsp::Location>>> {
        let at = params.text_document_position;
        let include_declaration = params.context.include_declaration;
        self.request(move |s| {
            let (file, _, offset) = at_position(s, &at.text_document.uri, at.position)?;
            ide::navigate::references(s.world(), file, offset, include_declaration).map(|r| convert::locations(s, &r))
        })
        .await
    }

    async fn document_highlight(&self, params: lsp::DocumentHighlightParams) -> Result<Option<Vec<lsp::DocumentHighlight>>> {
        let at = params.text_document_position_params;
        self.request(move |s| {
            let (file, text, offset) = at_position(s, &at.text_document.uri, at.position)?;
            ide::navigate::highlight(s.world(), file, offset).map(|h| convert::highlights(text, h))
        })
        .await
    }

    async fn completion(&self, params: lsp::CompletionParams) -> Result<Option<lsp::CompletionResponse>> {
        let at = params.text_document_position;
        self.request(move |s| {
            let (file, _, offset) = at_position(s, &at.text_document.uri, at.position)?;
            Some(convert::completion(ide::completion::completion(s.world(), file, offset)))
        })
        .await
    }

    async fn prepare_rename(&self, params: lsp::TextDocumentPositionParams) -> Result<Option<lsp::PrepareRenameResponse>> {
        self.request(move |s| {
            let (file, text, offset) = at_position(s, &params.text_document.uri, params.position)?;
            let (span, placeholder) = ide::rename::prepare(s.world(), file, offset)?;
            Some(lsp::PrepareRenameResponse::RangeWithPlaceholder { range: text.range(span), placeholder })
        })
        .await
    }

    async fn rename(&self, params: lsp::RenameParams) -> Result<Option<lsp::WorkspaceEdit>> {
        let at = params.text_document_position;
        let new_name = params.new_name;
        self.request(move |s| {
            let Some((file, _, offset)) = at_position(s, &at.text_document.uri, at.position) else { return Ok(None) };
            match ide::rename::rename(s.world(), file, offset, &new_name) {
                Ok(edits) => Ok(edits.and_then(|e| convert::workspace_edit(s, e))),
                Err(reason) => Err(Error::invalid_params(reason)),
            }
        })
        .await?
    }

    async fn code_action(&self, params: lsp::CodeActionParams) -> Result<Option<lsp::CodeActionResponse>> {
        self.request(move |s| {
            let file = s.file(&params.text_document.uri)?;
            let text = s.text_ref(file);
            let actions = ide::actions::code_actions(s.world(), file, text.span(params.range));
            Some(convert::code_actions(s, text, actions))
        })
        .await
    }

    async fn document_symbol(&self, params: lsp::DocumentSymbolParams) -> Result<Option<lsp::DocumentSymbolResponse>> {
        self.request(move |s| {
            let file = s.file(&params.text_document.uri)?;
            let text = s.text_ref(file);
            let symbols = ide::symbols::document_symbols(s.world(), file).into_iter().map(|sym| convert::document_symbol(text, sym)).collect();
            Some(lsp::DocumentSymbolResponse::Nested(symbols))
        })
        .await
    }

    async fn semantic_tokens_full(&self, params: lsp::SemanticTokensParams) -> Result<Option<lsp::SemanticTokensResult>> {
        self.request(move |s| {
            let file = s.file(&params.text_document.uri)?;
            Some(convert::semantic_tokens(s.text_ref(file), ide::tokens::semantic_tokens(s.world(), file)))
        })
        .await
    }

    async fn formatting(&self, params: lsp::DocumentFormattingParams) -> Result<Option<Vec<lsp::TextEdit>>> {
        self.request(move |s| {
            let file = s.file(&params.text_document.uri)?;
            ide::format::format(s.world(), file).map(|edits| convert::text_edits(s.text_ref(file), edits))
        })
        .await
    }
}

/// The world's file a request's URI names, its text, and the byte offset
/// of a position in it; `None` for a URI the server does not know (never opened, not in
/// a workspace folder): every feature then answers "nothing".
fn at_position<'a>(snap: &'a Snapshot, uri: &lsp::Uri, pos: lsp::Position) -> Option<(&'a File, TextRef<'a>, u32)> {
    let file = snap.file(uri)?;
    let text = snap.text_ref(file);
    Some((file, text, text.offset(pos)))
}
