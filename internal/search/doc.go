// Package search implements the search-expression language of
// POST /api/v1/logs/search (the JSON body field "query"): Parse turns a query
// into an Expr, whose Match tests one record, and RequiredTokens and Fields
// tell a storage engine which blocks and columns a query can need. The token
// rule of words and phrases (NextToken, AppendFolded) is the one the engine's
// bloom filters must use.
//
// # Syntax
//
//	query   = [ or ] .
//	or      = and { "OR" and } .
//	and     = not { [ "AND" ] not } .            juxtaposition is AND
//	not     = "NOT" not | "-" not | primary .     no space after "-"
//	primary = "(" or ")" | term .
//	term    = phrase | field ":" value | field ":" regex | word .
//	value   = phrase [ "*" ] | bare .            bare: not starting with `"` or "/"; a final "*" makes a prefix
//	field   = [a-zA-Z_][a-zA-Z0-9_.]* .
//	phrase  = `"` { byte other than `"` and `\` | `\` byte } `"` .
//	regex   = "/" { byte other than "/" and `\` | `\` byte } "/" .
//	bare    = one or more bytes other than spaces, "(" and ")" .
//	word    = a bare that does not start with `"` or "-" and is not AND, OR or NOT .
//
// Spaces are ASCII space, \t, \n, \v, \f and \r; they separate terms and are
// otherwise ignored. NOT binds tighter than AND, which binds tighter than OR:
// a b OR NOT c d means (a AND b) OR ((NOT c) AND d).
//
// Details that keep the language unambiguous:
//   - Only the upper-case words AND, OR and NOT are operators; and, or and
//     not are ordinary words, and "AND" searches for the word.
//   - "-" negates only at the start of a term and only when the term follows
//     it without a space: -debug, -(a OR b), -level:info. Inside a word it is
//     a literal byte (a-b). A lone "-" is an error.
//   - A `"` starts a phrase only at the start of a term; inside a word it is
//     literal, so user="bob" searches for that exact text.
//   - A word that looks like field:... is a field term: quote text such as
//     "error:" or "http://host" to search for it. A bare word may not end in
//     "*" (wildcards exist only in field values); quote it to search for "*".
//   - A phrase, a quoted value (with its "*", if any) and a regex must be
//     followed by a space, a parenthesis or the end of the query.
//   - In a phrase, \" is a quote and \\ a backslash; any other backslash is
//     literal ("C:\tmp" is C, colon, backslash, t, m, p). In a regex, \/ is a
//     slash and every other escape is passed to RE2 unchanged.
//   - Parentheses and negations nest at most 100 deep.
//
// # Meaning
//
//   - A word (timeout) matches a line that has it as a whole token, ignoring
//     ASCII case: timeout matches "Timeout after 5s" but not "timeouts". A
//     token is a maximal run of ASCII letters, digits, '_' and bytes >= 0x80
//     (see NextToken), so café is one token, and so is 日本語 (text without
//     spaces cannot be searched in part except by regex).
//   - A bare word that is not exactly one token, such as 10.0.0.1 or
//     user="bob", means the same as the phrase of its text.
//   - A phrase ("connection refused") matches a line that contains its text,
//     ignoring ASCII case, where a phrase that begins or ends with a token
//     byte must begin or end on a token boundary of the line. ".com" matches
//     example.com; "out after" does not match "timeout after".
//   - field:value matches when the record has the field and its value is
//     equal: exactly, except for level, which ignores ASCII case. A field the
//     record lacks matches nothing, so namespace:"" matches only an empty
//     namespace; use -field:* for "field absent".
//   - field:value* and field:"quoted value"* match a value that starts with
//     the given prefix; field:* matches any record that has the field.
//   - field:/regex/ matches when the field's value contains a match of the
//     RE2 regex (unanchored; anchor with ^ and $; (?i) ignores case). It is
//     compiled by Parse; an invalid regex is a parse error.
//   - The field names message and msg stand for the line itself: msg:/re/
//     matches the line against re, message:"text" matches a line that is
//     exactly text, and msg:text* a line that starts with text.
//   - The empty query matches everything (Parse returns MatchAll).
//
// Every error from Parse is a *ParseError carrying the byte offset and what
// was expected there, for example: at 14: expected ")" to close "(" at 3.
package search
