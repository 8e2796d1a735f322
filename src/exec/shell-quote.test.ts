import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatCommand, quote } from './shell-quote.js';

test('quote leaves plain words alone and single-quotes everything else', () => {
  assert.equal(quote('10.200.0.0/24'), '10.200.0.0/24');
  assert.equal(quote('a b'), "'a b'");
  assert.equal(quote("it's"), "'it'\\''s'");
  assert.equal(quote('$(reboot)'), "'$(reboot)'");
  assert.equal(quote(''), "''");
});

test('stdin is printed as a heredoc whose tag never collides with the content', () => {
  assert.equal(
    formatCommand({ argv: ['nft', '-f', '-'], stdin: 'flush ruleset' }),
    "nft -f - <<'EOF'\nflush ruleset\nEOF",
  );
  assert.equal(formatCommand({ argv: ['cat'], stdin: 'EOF\n' }), "cat <<'EOF_'\nEOF\nEOF_");
});
