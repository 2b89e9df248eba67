/**
 * User-space event filters for the trace commands: `--filter 'comm ~ "^ba" && (pid > 1000 || ret < 0)'`.
 *
 * A small tokenizer and recursive-descent parser compile the expression into a tree of closures over the
 * decoded event's fields — no `eval`, no `Function`. Grammar (lowest precedence first):
 *
 *   or      := and ('||' and)*
 *   and     := unary ('&&' unary)*
 *   unary   := '!' unary | primary
 *   primary := '(' or ')' | field op value
 *   op      := '==' | '!=' | '<' | '<=' | '>' | '>=' | '~'
 *   value   := number | "string" | 'string' | bare-word
 *
 * `~` matches a regular expression (JavaScript syntax) against the field as text. Numbers compare as
 * numbers; strings compare as strings (`<`/`>` lexicographically). Every mistake is a
 * `FilterSyntaxError` whose message points at the offending token with a caret.
 */

/** One field the filtered events carry, with its kind (checked when the filter is compiled). */
export type FieldKind = 'number' | 'string';

/** A compiled filter: true when the event passes. */
export type EventPredicate = (event: Readonly<Record<string, unknown>>) => boolean;

/** A malformed filter expression; `position` is the offending token's index in the expression. */
export class FilterSyntaxError extends Error {
  override name = 'FilterSyntaxError';
  constructor(
    readonly expression: string,
    readonly position: number,
    problem: string,
  ) {
    super(`${problem} at position ${position + 1}\n  ${expression}\n  ${' '.repeat(position)}^`);
  }
}

type TokenKind = 'ident' | 'number' | 'string' | 'op' | 'lparen' | 'rparen' | 'and' | 'or' | 'not' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
  value?: string | number;
}

const COMPARISONS = ['==', '!=', '<=', '>=', '<', '>', '~'] as const;
type Comparison = (typeof COMPARISONS)[number];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c === '(') {
      out.push({ kind: 'lparen', text: c, pos: i++ });
      continue;
    }
    if (c === ')') {
      out.push({ kind: 'rparen', text: c, pos: i++ });
      continue;
    }
    if (src.startsWith('&&', i)) {
      out.push({ kind: 'and', text: '&&', pos: i });
      i += 2;
      continue;
    }
    if (src.startsWith('||', i)) {
      out.push({ kind: 'or', text: '||', pos: i });
      i += 2;
      continue;
    }
    const cmp = COMPARISONS.find((op) => src.startsWith(op, i));
    if (cmp) {
      out.push({ kind: 'op', text: cmp, pos: i });
      i += cmp.length;
      continue;
    }
    if (c === '!') {
      out.push({ kind: 'not', text: c, pos: i++ });
      continue;
    }
    if (c === '"' || c === "'") {
      let text = '';
      i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] === '\\' && i + 1 < src.length) {
          text += src[i + 1];
          i += 2;
        } else text += src[i++];
      }
      if (i >= src.length) throw new FilterSyntaxError(src, start, 'unterminated string');
      i++;
      out.push({ kind: 'string', text: src.slice(start, i), pos: start, value: text });
      continue;
    }
    const num = /^-?(0x[0-9a-fA-F]+|\d+(\.\d+)?)/.exec(src.slice(i));
    if (num && !/[A-Za-z_]/.test(src[i + num[0].length] ?? '')) {
      out.push({ kind: 'number', text: num[0], pos: i, value: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_./-]*/.exec(src.slice(i));
    if (word) {
      out.push({ kind: 'ident', text: word[0], pos: i, value: word[0] });
      i += word[0].length;
      continue;
    }
    throw new FilterSyntaxError(src, i, `unexpected character "${c}"`);
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

/**
 * Compiles `expression` for events whose fields are `fields` (name → kind). Throws `FilterSyntaxError`
 * for a syntax error, an unknown field, a value of the wrong kind or an invalid regular expression.
 */
export function compileFilter(expression: string, fields: Readonly<Record<string, FieldKind>>): EventPredicate {
  const tokens = tokenize(expression);
  let at = 0;
  const peek = (): Token => tokens[at]!;
  const fail = (t: Token, problem: string): never => {
    throw new FilterSyntaxError(expression, t.pos, problem);
  };
  const describe = (t: Token): string => (t.kind === 'end' ? 'end of expression' : `"${t.text}"`);

  function parseOr(): EventPredicate {
    let left = parseAnd();
    while (peek().kind === 'or') {
      at++;
      const a = left,
        b = parseAnd();
      left = (e) => a(e) || b(e);
    }
    return left;
  }
  function parseAnd(): EventPredicate {
    let left = parseUnary();
    while (peek().kind === 'and') {
      at++;
      const a = left,
        b = parseUnary();
      left = (e) => a(e) && b(e);
    }
    return left;
  }
  function parseUnary(): EventPredicate {
    if (peek().kind === 'not') {
      at++;
      const inner = parseUnary();
      return (e) => !inner(e);
    }
    return parsePrimary();
  }
  function parsePrimary(): EventPredicate {
    const t = peek();
    if (t.kind === 'lparen') {
      at++;
      const inner = parseOr();
      if (peek().kind !== 'rparen') fail(peek(), `expected ")" but found ${describe(peek())}`);
      at++;
      return inner;
    }
    if (t.kind !== 'ident') return fail(t, `expected a field name but found ${describe(t)}`);
    const field = t.text;
    const kind = Object.hasOwn(fields, field) ? fields[field] : undefined;
    if (!kind) return fail(t, `unknown field "${field}" (fields: ${Object.keys(fields).join(', ')})`);
    at++;
    const opTok = peek();
    if (opTok.kind !== 'op')
      return fail(
        opTok,
        `expected a comparison (${COMPARISONS.join(' ')}) after "${field}" but found ${describe(opTok)}`,
      );
    at++;
    const valTok = peek();
    if (valTok.kind !== 'number' && valTok.kind !== 'string' && valTok.kind !== 'ident')
      return fail(valTok, `expected a value after "${opTok.text}" but found ${describe(valTok)}`);
    at++;
    return comparison(field, kind, opTok.text as Comparison, valTok);
  }
  function comparison(field: string, kind: FieldKind, op: Comparison, v: Token): EventPredicate {
    if (op === '~') {
      let re: RegExp;
      try {
        re = new RegExp(String(v.value));
      } catch (e) {
        return fail(v, `invalid regular expression: ${(e as Error).message}`);
      }
      return (e) => {
        re.lastIndex = 0;
        return re.test(String(e[field]));
      };
    }
    if (kind === 'number') {
      if (v.kind !== 'number') return fail(v, `field "${field}" is a number; ${describe(v)} is not`);
      const n = v.value as number;
      switch (op) {
        case '==':
          return (e) => Number(e[field]) === n;
        case '!=':
          return (e) => Number(e[field]) !== n;
        case '<':
          return (e) => Number(e[field]) < n;
        case '<=':
          return (e) => Number(e[field]) <= n;
        case '>':
          return (e) => Number(e[field]) > n;
        case '>=':
          return (e) => Number(e[field]) >= n;
      }
    }
    const s = v.kind === 'number' ? v.text : String(v.value);
    switch (op) {
      case '==':
        return (e) => String(e[field]) === s;
      case '!=':
        return (e) => String(e[field]) !== s;
      case '<':
        return (e) => String(e[field]) < s;
      case '<=':
        return (e) => String(e[field]) <= s;
      case '>':
        return (e) => String(e[field]) > s;
      case '>=':
        return (e) => String(e[field]) >= s;
    }
  }

  if (peek().kind === 'end') fail(peek(), 'empty filter');
  const predicate = parseOr();
  if (peek().kind !== 'end') fail(peek(), `unexpected ${describe(peek())}`);
  return predicate;
}
