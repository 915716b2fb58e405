#!/usr/bin/env node
// Converts test files written for node's test runner (node:test) to Jest, in place.
//
//   node tools/jest-codemod.mjs                 # every .ts/.mts/.js file under test/
//   node tools/jest-codemod.mjs test/x.test.ts  # given files or folders only
//   node tools/jest-codemod.mjs --check         # change nothing; exit 1 if a file would change
//
// Idempotent: a file without a `node:test` import is left alone, so running it again over the
// whole tree (e.g. after merging branches that still wrote node:test tests) only touches the
// newcomers. It works on the TypeScript syntax tree (identifiers are resolved, so a local
// variable that happens to be called `after` is not renamed) and prettier formats what it
// changed. What it cannot convert it reports as `file:line: manual: ...` on stderr and leaves
// as it was; the exit code is then 2 (1 with --check when something would change).
//
// What it does:
// - `import { ... } from 'node:test'` → `import { ... } from '@jest/globals'`
//   (before → beforeAll, after → afterAll, suite → describe, mock → jest; beforeEach,
//   afterEach, describe, test, it unchanged; aliases kept; `import test from 'node:test'` too);
//   types TestContext / SuiteContext come from test/helpers/jest-context.ts.
// - options objects: `test(name, { skip: true }, fn)` → `test.skip(name, fn)`, `{ todo }` →
//   `test.todo(name)` (or `.skip` when it has a body), `{ only }` → `.only`, `{ timeout: n }` →
//   `test(name, fn, n)`, `{ concurrency }` dropped (Jest runs a file's tests one by one);
//   a computed `skip: cond` → `(cond ? test.skip : test)(name, fn)`.
// - the context argument: Jest takes a test or hook function with a parameter for a `done`
//   callback, so an unused `(t)` is dropped; a used one is kept by wrapping the function in
//   `withTestContext(...)` (test/helpers/jest-context.ts: t.after, t.diagnostic, t.name,
//   t.signal, t.mock are supported; t.skip/t.todo/t.plan/t.test throw at run time and are
//   reported here). `(t, done)` with an unused t becomes `(done)`.
// - mocks: `mock.fn` → `jest.fn`, `mock.method(o, m[, impl])` → `jest.spyOn(o, m)
//   [.mockImplementation(impl)]`, `mock.getter/setter` → `jest.spyOn(o, m, 'get'|'set')`,
//   `mock.timers.enable(opts)` → `jest.useFakeTimers(fromNodeTimers(opts))`, `.tick(n)` →
//   `jest.advanceTimersByTime(n)`, `.runAll()` → `jest.runAllTimers()`, `.setTime(n)` →
//   `jest.setSystemTime(n)`, `.reset()` → `jest.useRealTimers()`, `mock.restoreAll()` /
//   `mock.reset()` → `jest.restoreAllMocks()`; on mock functions `x.mock.callCount()` →
//   `x.mock.calls.length`, `x.mock.calls[i].arguments` → `x.mock.calls[i]`,
//   `x.mock.calls[i].result` → `x.mock.results[i].value`.
// - `async` is dropped from describe callbacks that never await (Jest refuses a promise there).
//
// Reported for manual work: subtests (`t.test`, or test() called inside a running test),
// t.skip/t.todo/t.plan at run time, describe-level timeouts, other option keys, `.arguments`
// or `.result` reached some other way (e.g. `calls.map((c) => c.arguments)`), other `mock.*`
// members, `require('node:test')`, a describe callback that awaits.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONTEXT_HELPER = path.join(ROOT, 'test', 'helpers', 'jest-context');
const EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

const RENAME = {
  test: 'test',
  it: 'it',
  describe: 'describe',
  suite: 'describe',
  before: 'beforeAll',
  after: 'afterAll',
  beforeEach: 'beforeEach',
  afterEach: 'afterEach',
  mock: 'jest',
};
const TYPE_NAMES = new Set(['TestContext', 'SuiteContext']);
const TEST_FNS = new Set(['test', 'it']);
const SUITE_FNS = new Set(['describe', 'suite']);
const HOOK_FNS = new Set(['before', 'after', 'beforeEach', 'afterEach']);

function listFiles(targets) {
  const out = [];
  const walk = (p) => {
    const stat = fs.statSync(p);
    if (stat.isDirectory()) {
      for (const e of fs.readdirSync(p)) if (e !== 'node_modules') walk(path.join(p, e));
    } else if (EXTENSIONS.includes(path.extname(p))) out.push(p);
  };
  for (const t of targets) walk(path.resolve(t));
  return out.sort();
}

/** A checker over this one file: enough to tell which identifiers are the node:test imports. */
function checkerFor(fileName, text) {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kindOf(fileName));
  const options = { noResolve: true, noLib: true, allowJs: true, types: [] };
  const host = ts.createCompilerHost(options);
  host.getSourceFile = (name) => (path.resolve(name) === path.resolve(fileName) ? sf : undefined);
  host.fileExists = (name) => path.resolve(name) === path.resolve(fileName);
  host.readFile = () => text;
  const program = ts.createProgram([fileName], options, host);
  return { sf: program.getSourceFile(fileName), checker: program.getTypeChecker() };
}

function kindOf(fileName) {
  return /\.[cm]?js$/.test(fileName) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
}

function relImport(fromFile, target) {
  let rel = path.relative(path.dirname(fromFile), target).split(path.sep).join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel;
}

export function convert(fileName, text, absolute = path.resolve(fileName)) {
  const notes = [];
  if (!/['"]node:test['"]/.test(text)) return { text, notes, changed: false };
  const { sf, checker } = checkerFor(fileName, text);
  const line = (node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const manual = (node, msg) => notes.push(`${fileName}:${line(node)}: manual: ${msg}`);

  const edits = [];
  const replace = (start, end, newText) => edits.push({ start, end, text: newText });
  const replaceNode = (node, newText) => replace(node.getStart(sf), node.getEnd(), newText);

  // --- the imports --------------------------------------------------------------------------
  const imports = sf.statements.filter(
    (s) => ts.isImportDeclaration(s) && s.moduleSpecifier.text === 'node:test',
  );
  if (imports.length === 0) {
    ts.forEachChild(sf, function find(n) {
      if (
        ts.isCallExpression(n) &&
        n.expression.getText(sf) === 'require' &&
        n.arguments[0]?.getText(sf).match(/^['"]node:test['"]$/)
      )
        manual(n, "require('node:test'): use an import so the codemod can convert it");
      ts.forEachChild(n, find);
    });
    return { text, notes, changed: false };
  }
  /** local symbol → node:test name */
  const bound = new Map();
  const jestNames = []; // [importedJestName, localName]
  const typeNames = []; // [importedName, localName]
  let namespaceLocal = null;
  for (const imp of imports) {
    const clause = imp.importClause;
    if (!clause) continue;
    if (clause.name) {
      bound.set(checker.getSymbolAtLocation(clause.name), 'test');
      jestNames.push(['test', clause.name.text]);
    }
    const nb = clause.namedBindings;
    if (nb && ts.isNamespaceImport(nb)) {
      namespaceLocal = nb.name.text;
      manual(nb, `namespace import of node:test (${nb.name.text}.x): import the names instead`);
    } else if (nb) {
      for (const el of nb.elements) {
        const imported = (el.propertyName ?? el.name).text;
        const local = el.name.text;
        if (TYPE_NAMES.has(imported)) {
          typeNames.push([imported, local]);
          continue;
        }
        if (!(imported in RENAME)) {
          manual(el, `node:test export "${imported}" has no Jest mapping`);
          continue;
        }
        bound.set(checker.getSymbolAtLocation(el.name), imported);
        // references to an unaliased import are renamed (before → beforeAll), an alias is kept
        const jestLocal = local === imported ? RENAME[imported] : local;
        if (!(el.isTypeOnly || clause.isTypeOnly)) jestNames.push([RENAME[imported], jestLocal]);
      }
    }
  }
  if (namespaceLocal) return { text, notes, changed: false };

  /** The node:test name an identifier refers to, or null. */
  const nodeName = (id) => {
    if (!ts.isIdentifier(id)) return null;
    const sym = checker.getSymbolAtLocation(id);
    return sym ? (bound.get(sym) ?? null) : null;
  };
  /** For `test`, `test.skip`, `describe.only`, ...: [node name, modifier or null]. */
  const calleeOf = (expr) => {
    const direct = nodeName(expr);
    if (direct) return [direct, null];
    if (ts.isPropertyAccessExpression(expr)) {
      const base = nodeName(expr.expression);
      if (base) return [base, expr.name.text];
    }
    return [null, null];
  };

  let needsContextHelper = false;
  let needsTimersHelper = false;
  let needsJest = false;
  const rebuiltCallees = new Set();
  const hookCallees = new Set();

  const isFn = (n) => n && (ts.isArrowFunction(n) || ts.isFunctionExpression(n));
  const paramUsed = (fn, param) => {
    if (!ts.isIdentifier(param.name)) return true;
    const sym = checker.getSymbolAtLocation(param.name);
    let used = false;
    const visit = (n) => {
      if (used) return;
      if (ts.isIdentifier(n) && n !== param.name && checker.getSymbolAtLocation(n) === sym)
        used = true;
      else ts.forEachChild(n, visit);
    };
    visit(fn.body);
    return used;
  };
  const paramList = (fn) => {
    const ps = fn.parameters;
    return { start: ps.pos, end: ps.end };
  };
  /** Handles the context parameter of a test/hook function; returns wrap info or null. */
  /**
   * Hook calls (`after(...)`) made inside a running test: node:test ties them to that test,
   * Jest refuses hooks there. They become `t.after(...)` on the test's context.
   */
  const innerHooks = (fn) => {
    const found = [];
    const visit = (n) => {
      if (ts.isCallExpression(n)) {
        const [name] = calleeOf(n.expression);
        if (name && (TEST_FNS.has(name) || SUITE_FNS.has(name))) return; // a nested test: its own
        if (name && HOOK_FNS.has(name) && ts.isIdentifier(n.expression)) found.push(n);
      }
      ts.forEachChild(n, visit);
    };
    ts.forEachChild(fn.body, visit);
    return found;
  };
  const freeName = (fn) => {
    const body = fn.getText(sf);
    return ['t', 'ctx', 'testContext'].find((n) => !new RegExp(`\\b${n}\\b`).test(body)) ?? 't_';
  };
  const contextOf = (fn, kind) => {
    const hooks = kind === 'test' ? innerHooks(fn) : [];
    if (fn.parameters.length === 0 && hooks.length === 0) return null;
    const [ctx, done] = fn.parameters;
    const ctxUsed = ctx ? paramUsed(fn, ctx) : false;
    if (done) {
      if (ctxUsed || hooks.length) {
        manual(fn, `${kind} takes both a context and a done callback: convert by hand`);
        return null;
      }
      const { start, end } = paramList(fn);
      replace(start, end, done.getText(sf));
      return null;
    }
    if (!ctxUsed && hooks.length === 0) {
      const { start, end } = paramList(fn);
      if (ts.isArrowFunction(fn) && !text.slice(fn.getStart(sf), start).includes('(')) {
        // `t => ...`: the parameter has no parentheses around it
        replace(ctx.getStart(sf), ctx.getEnd(), '()');
      } else replace(start, end, '');
      return null;
    }
    let ctxName;
    if (ctx && ts.isIdentifier(ctx.name)) ctxName = ctx.name.text;
    else if (ctx) {
      manual(fn, `${kind} destructures its context: convert by hand`);
      return null;
    } else {
      ctxName = freeName(fn);
      const { start, end } = paramList(fn);
      replace(start, end, ctxName);
    }
    for (const call of hooks) {
      const [name] = calleeOf(call.expression);
      if (name === 'after') {
        hookCallees.add(call.expression);
        replaceNode(call.expression, `${ctxName}.after`);
      } else manual(call, `${name}() inside a running test: Jest has no per-test ${name} hook`);
    }
    // the context is used: keep it, wrap the function
    const usesMock = /\.mock\b/.test(fn.body.getText(sf));
    if (ctx) checkContextUses(fn, ctx);
    needsContextHelper = true;
    return { usesMock };
  };
  const checkContextUses = (fn, param) => {
    if (!ts.isIdentifier(param.name)) return;
    const sym = checker.getSymbolAtLocation(param.name);
    const visit = (n) => {
      if (
        ts.isPropertyAccessExpression(n) &&
        ts.isIdentifier(n.expression) &&
        checker.getSymbolAtLocation(n.expression) === sym
      ) {
        const member = n.name.text;
        if (['skip', 'todo', 'plan', 'test', 'runOnly', 'assert', 'snapshot'].includes(member))
          manual(n, `${param.name.text}.${member}(): Jest has no run-time equivalent`);
        else if (!['after', 'diagnostic', 'name', 'fullName', 'signal', 'mock'].includes(member))
          manual(n, `${param.name.text}.${member}: not in test/helpers/jest-context.ts`);
      }
      ts.forEachChild(n, visit);
    };
    visit(fn.body);
  };
  const wrap = (fn, info) => {
    const opts = info.usesMock ? ', { mocks: true }' : '';
    edits.push({ start: fn.getStart(sf), end: fn.getStart(sf), text: 'withTestContext(' });
    edits.push({ start: fn.getEnd(), end: fn.getEnd(), text: `${opts})` });
  };

  const awaitsDirectly = (fn) => {
    let found = false;
    const visit = (n) => {
      if (found) return;
      if (ts.isAwaitExpression(n) || ts.isForOfStatement(n) && n.awaitModifier) found = true;
      else if (!ts.isFunctionLike(n)) ts.forEachChild(n, visit);
    };
    ts.forEachChild(fn.body, visit);
    return found;
  };

  // --- calls of test/describe/hooks ---------------------------------------------------------
  const testDepth = [];
  const visit = (node) => {
    if (ts.isCallExpression(node)) {
      const [name, modifier] = calleeOf(node.expression);
      if (name && (TEST_FNS.has(name) || SUITE_FNS.has(name))) {
        handleTestCall(node, name, modifier);
        const fn = node.arguments.find(isFn);
        if (fn && TEST_FNS.has(name)) {
          testDepth.push(fn);
          ts.forEachChild(node, visit);
          testDepth.pop();
          return;
        }
      } else if (name && HOOK_FNS.has(name)) {
        const fn = node.arguments[0];
        if (isFn(fn)) {
          const info = contextOf(fn, 'hook');
          if (info) wrap(fn, info);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  const handleTestCall = (node, name, modifier) => {
    const isTest = TEST_FNS.has(name);
    if (isTest && testDepth.length > 0)
      manual(node, 'a test declared inside a running test (a subtest): Jest cannot nest tests');
    const args = node.arguments;
    let fnArg = args.find(isFn) ?? null;
    const optsArg = args.find((a) => ts.isObjectLiteralExpression(a)) ?? null;
    let newModifier = modifier;
    let timeout = null;
    let skipCond = null;
    if (optsArg) {
      for (const prop of optsArg.properties) {
        if (!ts.isPropertyAssignment(prop) && !ts.isShorthandPropertyAssignment(prop)) {
          manual(prop, 'options object with a spread or method: convert by hand');
          continue;
        }
        const key = prop.name.getText(sf);
        const value = ts.isPropertyAssignment(prop) ? prop.initializer : prop.name;
        const literal =
          value.kind === ts.SyntaxKind.TrueKeyword ||
          ts.isStringLiteral(value) ||
          ts.isNoSubstitutionTemplateLiteral(value);
        const off = value.kind === ts.SyntaxKind.FalseKeyword || value.kind === ts.SyntaxKind.UndefinedKeyword;
        if (key === 'skip' || key === 'todo' || key === 'only') {
          if (off) continue;
          if (literal) newModifier = key;
          else if (key === 'skip') skipCond = value.getText(sf);
          else manual(prop, `computed "${key}" option: convert by hand`);
        } else if (key === 'timeout') {
          if (isTest) timeout = value.getText(sf);
          else manual(prop, 'a describe-level timeout: give its tests a timeout (third argument)');
        } else if (key === 'concurrency') {
          // Jest runs the tests of a file one after another; nothing to say.
        } else manual(prop, `option "${key}" has no Jest equivalent`);
      }
    }
    if (newModifier === 'todo' && fnArg) newModifier = 'skip';
    let ctxInfo = null;
    if (fnArg) {
      if (isTest) ctxInfo = contextOf(fnArg, 'test');
      else if (fnArg.parameters.length > 0) {
        if (paramUsed(fnArg, fnArg.parameters[0]))
          manual(fnArg, 'describe callback uses its suite context: convert by hand');
        else {
          const { start, end } = paramList(fnArg);
          replace(start, end, '');
        }
      }
      if (!isTest && fnArg.modifiers?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword)) {
        if (awaitsDirectly(fnArg))
          manual(fnArg, 'describe callback awaits: Jest collects tests synchronously');
        else {
          const asyncMod = fnArg.modifiers.find((m) => m.kind === ts.SyntaxKind.AsyncKeyword);
          replace(asyncMod.getStart(sf), asyncMod.getEnd() + 1, '');
        }
      }
    }
    // rebuild the argument list only when the options or the modifier changed
    if (optsArg || newModifier !== modifier) {
      const jestName = RENAME[name];
      const base = ts.isPropertyAccessExpression(node.expression)
        ? node.expression.expression.getText(sf)
        : node.expression.getText(sf);
      const local = base === name ? jestName : base;
      let callee = newModifier ? `${local}.${newModifier}` : local;
      if (skipCond) callee = `(${skipCond} ? ${local}.skip : ${callee})`;
      rebuiltCallees.add(node.expression);
      const rest = args.filter((a) => a !== optsArg);
      const parts = rest.map((a) => ({ node: a, text: a.getText(sf) }));
      if (newModifier === 'todo') {
        replace(node.getStart(sf), node.getEnd(), `${callee}(${parts[0]?.text ?? "''"})`);
        fnArg = null;
        return;
      }
      // keep the edits inside the function (context, async) by rewriting around it
      replace(node.expression.getStart(sf), node.expression.getEnd(), callee);
      replace(node.arguments.pos, node.arguments.end, '\u0000ARGS\u0000');
      pendingArgs.push({ node, parts, timeout, ctxInfo, fnArg });
      return;
    }
    if (ctxInfo) wrap(fnArg, ctxInfo);
  };
  const pendingArgs = [];
  visit(sf);

  // --- identifiers: renames and mock members ------------------------------------------------
  const idVisit = (node) => {
    if (rebuiltCallees.has(node) || hookCallees.has(node)) return; // already rewritten
    if (ts.isIdentifier(node)) {
      const name = nodeName(node);
      const parent = node.parent;
      const isDecl =
        ts.isImportSpecifier(parent) || ts.isImportClause(parent) || ts.isNamespaceImport(parent);
      if (name && !isDecl && !(ts.isPropertyAccessExpression(parent) && parent.name === node)) {
        if (name === 'mock') rewriteMock(node);
        else if (RENAME[name] !== name && node.text === name) replaceNode(node, RENAME[name]);
      }
    }
    ts.forEachChild(node, idVisit);
  };
  const rewriteMock = (id) => {
    needsJest = true;
    // id is `mock` (from node:test); look at mock.x / mock.timers.x
    const p1 = id.parent;
    if (!ts.isPropertyAccessExpression(p1) || p1.expression !== id) {
      manual(id, 'node:test `mock` used as a value: convert by hand');
      return;
    }
    const member = p1.name.text;
    const call = ts.isCallExpression(p1.parent) && p1.parent.expression === p1 ? p1.parent : null;
    if (member === 'fn') return replaceNode(p1, 'jest.fn');
    if (member === 'restoreAll' || member === 'reset') return replaceNode(p1, 'jest.restoreAllMocks');
    if ((member === 'method' || member === 'getter' || member === 'setter') && call) {
      const [obj, name, impl] = call.arguments;
      const access = member === 'getter' ? ", 'get'" : member === 'setter' ? ", 'set'" : '';
      let out = `jest.spyOn(${obj.getText(sf)}, ${name.getText(sf)}${access})`;
      if (impl) out += `.mockImplementation(${impl.getText(sf)})`;
      if (call.arguments.length > 3) manual(call, `mock.${member} options: convert by hand`);
      return replaceNode(call, out);
    }
    if (member === 'timers') {
      const p2 = p1.parent;
      const call2 =
        ts.isPropertyAccessExpression(p2) && ts.isCallExpression(p2.parent) && p2.parent.expression === p2
          ? p2.parent
          : null;
      if (!call2) return manual(p1, 'mock.timers used as a value: convert by hand');
      const args = call2.arguments.map((a) => a.getText(sf)).join(', ');
      const map = {
        tick: `jest.advanceTimersByTime(${args || '1'})`,
        runAll: 'jest.runAllTimers()',
        setTime: `jest.setSystemTime(${args})`,
        reset: 'jest.useRealTimers()',
        [Symbol.dispose]: 'jest.useRealTimers()',
      };
      const what = p2.name.text;
      if (what === 'enable') {
        needsTimersHelper = true;
        return replaceNode(call2, `jest.useFakeTimers(fromNodeTimers(${args}))`);
      }
      if (map[what]) return replaceNode(call2, map[what]);
      return manual(call2, `mock.timers.${what}: convert by hand`);
    }
    manual(p1, `mock.${member}: convert by hand`);
  };
  idVisit(sf);

  // --- mock function records: .mock.callCount(), .mock.calls[i].arguments/.result ---------
  const recVisit = (node) => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'callCount' &&
      ts.isPropertyAccessExpression(node.expression.expression) &&
      node.expression.expression.name.text === 'mock'
    ) {
      replace(node.expression.name.getStart(sf), node.getEnd(), 'calls.length');
      return;
    }
    if (
      ts.isPropertyAccessExpression(node) &&
      (node.name.text === 'arguments' || node.name.text === 'result' || node.name.text === 'error') &&
      ts.isElementAccessExpression(node.expression) &&
      ts.isPropertyAccessExpression(node.expression.expression) &&
      node.expression.expression.name.text === 'calls' &&
      ts.isPropertyAccessExpression(node.expression.expression.expression) &&
      node.expression.expression.expression.name.text === 'mock'
    ) {
      const el = node.expression;
      const owner = el.expression.expression.getText(sf); // x.mock
      const index = el.argumentExpression.getText(sf);
      if (node.name.text === 'arguments') replaceNode(node, `${owner}.calls[${index}]`);
      else if (node.name.text === 'result') replaceNode(node, `${owner}.results[${index}].value`);
      else replaceNode(node, `${owner}.results[${index}].value`);
      return;
    }
    if (
      ts.isPropertyAccessExpression(node) &&
      (node.name.text === 'arguments' || node.name.text === 'result') &&
      /\.mock\.calls\b/.test(text) &&
      !ts.isElementAccessExpression(node.expression)
    ) {
      const root = node.expression.getText(sf);
      if (root !== 'arguments' && /^[a-z_$][\w$]*$/i.test(root))
        manual(node, `".${node.name.text}" of a mock call record? Jest records are argument arrays`);
    }
    ts.forEachChild(node, recVisit);
  };
  recVisit(sf);

  // --- the new imports ----------------------------------------------------------------------
  if (needsJest && !jestNames.some(([n]) => n === 'jest')) jestNames.push(['jest', 'jest']);
  const specifier = ([imported, local]) => (imported === local ? imported : `${imported} as ${local}`);
  const seen = new Set();
  const uniq = jestNames.filter(([i, l]) => {
    const k = `${i}/${l}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  // merge into an existing @jest/globals import when there is one
  const existing = sf.statements.find(
    (s) => ts.isImportDeclaration(s) && s.moduleSpecifier.text === '@jest/globals',
  );
  let jestImport = '';
  if (existing && existing.importClause?.namedBindings && ts.isNamedImports(existing.importClause.namedBindings)) {
    const have = existing.importClause.namedBindings.elements.map((e) => [
      (e.propertyName ?? e.name).text,
      e.name.text,
    ]);
    const all = [...have];
    for (const n of uniq) if (!all.some(([i, l]) => i === n[0] && l === n[1])) all.push(n);
    replaceNode(existing, `import { ${all.map(specifier).join(', ')} } from '@jest/globals';`);
  } else if (uniq.length) {
    jestImport = '\u0001JEST\u0001';
  }
  const helperNames = [];
  if (needsContextHelper) helperNames.push('withTestContext');
  if (needsTimersHelper) helperNames.push('fromNodeTimers');
  for (const [imported, local] of typeNames)
    helperNames.push(`type ${imported === local ? imported : `${imported} as ${local}`}`);
  let helperImport = '';
  if (helperNames.length) {
    const from = relImport(absolute, CONTEXT_HELPER);
    helperImport = `\nimport { ${helperNames.join(', ')} } from '${from}';`;
  }
  imports.forEach((imp, i) => {
    const text0 = i === 0 ? `${jestImport}${helperImport}`.replace(/^\n/, '') : '';
    const end = imp.getEnd();
    // drop the statement and, when nothing replaces it, its line break
    const eol = !text0 && text[end] === '\n' ? end + 1 : end;
    replace(imp.getStart(sf), eol, text0);
  });

  // --- apply --------------------------------------------------------------------------------
  let out = applyEdits(text, edits);
  // argument lists that were rebuilt: each placeholder gets its arguments, with the edits
  // made inside them applied (the function's own edits were recorded on the original text)
  for (const p of pendingArgs) {
    const inner = p.parts.map(({ node: a }) => {
      const sub = edits.filter((e) => e.start >= a.getStart(sf) && e.end <= a.getEnd());
      let t = applyEdits(text, sub, a.getStart(sf), a.getEnd());
      if (a === p.fnArg && p.ctxInfo) t = `withTestContext(${t}${p.ctxInfo.usesMock ? ', { mocks: true }' : ''})`;
      return t;
    });
    if (p.timeout) inner.push(p.timeout);
    out = out.replace('\u0000ARGS\u0000', inner.join(', '));
  }
  // import only the Jest names still referenced (e.g. `after` may all have become `t.after`)
  const used = uniq.filter(([, local]) =>
    new RegExp(`(^|[^\\w$.])${local.replace(/\$/g, '\\$')}\\b`).test(out.replace('\u0001JEST\u0001', '')),
  );
  out = out.replace(
    /\u0001JEST\u0001\n?/,
    used.length ? `import { ${used.map(specifier).join(', ')} } from '@jest/globals';\n` : '',
  );
  return { text: out, notes, changed: out !== text };
}

/** Applies non-overlapping edits to text[from, to); nested edits inside a replaced range are dropped. */
function applyEdits(text, edits, from = 0, to = text.length) {
  const sorted = edits
    .filter((e) => e.start >= from && e.end <= to)
    .sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let pos = from;
  for (const e of sorted) {
    if (e.start < pos) continue; // inside an earlier replacement (e.g. a rebuilt argument list)
    out += text.slice(pos, e.start) + e.text;
    pos = e.end;
  }
  return out + text.slice(pos, to);
}

async function format(file, text) {
  try {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(text, { ...options, filepath: file });
  } catch (err) {
    console.error(`${path.relative(ROOT, file)}: prettier: ${err.message}`);
    return text;
  }
}

async function main() {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const targets = args.filter((a) => !a.startsWith('--'));
  const files = listFiles(targets.length ? targets : [path.join(ROOT, 'test')]);
  let changedCount = 0;
  let manualCount = 0;
  for (const file of files) {
    if (path.resolve(file) === path.resolve(`${CONTEXT_HELPER}.ts`)) continue;
    const before = fs.readFileSync(file, 'utf8');
    const rel = path.relative(ROOT, file);
    const { text, notes, changed } = convert(rel, before, path.resolve(file));
    for (const n of notes) console.error(n);
    manualCount += notes.length;
    if (!changed) continue;
    const formatted = await format(file, text);
    if (formatted === before) continue;
    changedCount++;
    if (check) console.log(`would convert ${rel}`);
    else {
      fs.writeFileSync(file, formatted);
      console.log(`converted ${rel}`);
    }
  }
  console.log(
    `${changedCount} file(s) ${check ? 'to convert' : 'converted'}, ${manualCount} place(s) need manual work`,
  );
  if (check && changedCount) process.exitCode = 1;
  else if (manualCount) process.exitCode = 2;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
