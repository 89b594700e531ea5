import { rewritePlaceholders, splitStatements } from '../../lambdas/shared/sql/lexer';

describe('splitStatements', () => {
  it('splits on top-level semicolons only', () => {
    // Prepare
    const script = `
      -- a comment; with a semicolon
      CREATE TABLE a (x text DEFAULT 'a;b');
      /* block; comment */ INSERT INTO a VALUES ('it''s; fine');
      CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;
      SELECT $$;$$, E'\\';', "we;ird";
    `;
    // Act
    const statements = splitStatements(script);
    // Assess
    expect(statements).toHaveLength(4);
    expect(statements[0]).toMatch(/^-- a comment; with a semicolon\s+CREATE TABLE a \(x text DEFAULT 'a;b'\)$/);
    expect(statements[1]).toContain("'it''s; fine'");
    expect(statements[2]).toContain('BEGIN RETURN 1; END $body$');
    expect(statements[3]).toBe(`SELECT $$;$$, E'\\';', "we;ird"`);
  });

  it('drops empty and comment-only statements', () => {
    expect(splitStatements(';;  -- only a comment\n;')).toEqual([]);
  });
});

describe('rewritePlaceholders', () => {
  it('rewrites $n in code but not in literals, comments or dollar quotes', () => {
    const sql = `SELECT $1::text, '$2', $$ $3 $$ -- $4\n , $2::int`;
    expect(rewritePlaceholders(sql, (n) => `:p${n}`)).toBe(`SELECT :p1::text, '$2', $$ $3 $$ -- $4\n , :p2::int`);
  });
});
