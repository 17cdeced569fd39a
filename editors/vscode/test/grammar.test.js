// The TextMate grammar, run by the same engine VS Code uses (vscode-textmate
// with Oniguruma): every line of the examples tokenizes, and the parts a
// person looks at get the scopes a theme colors.

const test = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const path = require("node:path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
const onigLib = oniguruma.loadWASM(wasm).then(() => ({
  createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
  createOnigString: (s) => new oniguruma.OnigString(s),
}));
const registry = new vsctm.Registry({
  onigLib,
  loadGrammar: async (scopeName) => {
    if (scopeName !== "source.flow") return null;
    const file = path.join(__dirname, "..", "syntaxes", "flow.tmLanguage.json");
    return vsctm.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
  },
});

/** Every token of a text as [text, scopes]. */
async function tokenize(text) {
  const grammar = await registry.loadGrammar("source.flow");
  let state = vsctm.INITIAL;
  const out = [];
  for (const line of text.split("\n")) {
    const r = grammar.tokenizeLine(line, state);
    for (const t of r.tokens) out.push([line.slice(t.startIndex, t.endIndex), t.scopes]);
    state = r.ruleStack;
  }
  return out;
}

function scopesOf(tokens, text) {
  const t = tokens.find(([s]) => s === text);
  assert.ok(t, `no token ${JSON.stringify(text)}`);
  return t[1].join(" ");
}

test("scopes of the parts of a workflow", async () => {
  const tokens = await tokenize(
    [
      "// a comment",
      "workflow hello {",
      "  step greet: agent writer after a, b {",
      '    command "echo ${greet.output.name} $inputs.who $$HOME \\n"',
      "    when `size(items) > 0 && inputs.n == 'x'`",
      "    timeout 1h30m",
      "    retry 3",
      "  }",
      "}",
      "/* block */",
    ].join("\n"),
  );
  assert.match(scopesOf(tokens, " a comment"), /comment\.line/);
  assert.match(scopesOf(tokens, "workflow"), /keyword\.declaration/);
  assert.match(scopesOf(tokens, "hello"), /entity\.name\.type/);
  assert.match(scopesOf(tokens, "greet"), /entity\.name\.function\.step/);
  assert.match(scopesOf(tokens, "agent"), /storage\.type\.step-kind/);
  assert.match(scopesOf(tokens, "writer"), /entity\.name\.type/);
  assert.match(scopesOf(tokens, "after"), /keyword\.other/);
  assert.match(scopesOf(tokens, "${"), /punctuation\.section\.interpolation\.begin/);
  assert.match(scopesOf(tokens, "name"), /variable\.other\.property\.cel/);
  assert.match(scopesOf(tokens, "inputs"), /meta\.interpolation\.short/);
  assert.match(scopesOf(tokens, "$$"), /constant\.character\.escape/);
  assert.match(scopesOf(tokens, "\\n"), /constant\.character\.escape/);
  assert.match(scopesOf(tokens, "size"), /meta\.embedded\.expression\.cel.*support\.function\.cel/);
  assert.match(scopesOf(tokens, "x"), /string\.quoted\.single\.cel/);
  assert.match(scopesOf(tokens, "1h30m"), /constant\.numeric\.duration/);
  assert.match(scopesOf(tokens, "3"), /constant\.numeric\.flow/);
  assert.match(scopesOf(tokens, " block "), /comment\.block/);
});

test("outcome tests are coloured only where they test an outcome", async () => {
  const tokens = await tokenize(
    ["workflow w {", "  step page after build, failed(test) || skipped (lint) {", '    command "echo failed"', "  }", "}"].join("\n"),
  );
  assert.match(scopesOf(tokens, "failed"), /support\.function\.flow/);
  assert.match(scopesOf(tokens, "skipped"), /support\.function\.flow/);
  // A word that is no test (in a string, or without a `(`) keeps its colour.
  assert.ok(!tokens.some(([t, sc]) => t.includes("echo failed") && sc.join(" ").includes("support.function.flow")));
});

test("every example tokenizes, with strings closed where they close", async () => {
  const root = path.join(__dirname, "..", "..", "..", "examples");
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".flow")) files.push(p);
    }
  };
  walk(root);
  assert.ok(files.length > 0);
  for (const file of files) {
    const tokens = await tokenize(fs.readFileSync(file, "utf8"));
    // A grammar that loses track of a string colors the rest of the file
    // as one: the last token must be back at the top level.
    const last = tokens[tokens.length - 1];
    assert.ok(!last[1].some((s) => s.startsWith("string")), `${file} ends inside a string`);
    assert.ok(tokens.some(([, s]) => s.some((x) => x.startsWith("keyword"))), file);
  }
});
