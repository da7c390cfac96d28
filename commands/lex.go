package commands

import (
	"fmt"
	"strings"
)

// token is one word of a normalized line, or one double-quoted span.
//
// Only '"' quotes: a single quote is far more often an apostrophe (O'Brien,
// it's) than a quote, so it never groups words; Parse strips one pair that
// wraps a whole value instead. A span closes at the first '"' that is followed
// by a space or the end of the line, so a quote inside a word ("17" screens")
// does not end it, and tokens are always separated by a space: joining their
// raw text with single spaces gives back the line.
type token struct {
	raw    string  // as it appears in the line, quotes included
	text   string  // a quoted span's contents, trimmed; raw otherwise
	quoted bool    // a double-quoted span: never a verb, option or split further
	opt    *option // set when the token is an option such as --reason
}

// option is a token that starts with a dash and a letter.
type option struct {
	typed       string // as typed up to any '=', for error messages: "--reson"
	name        string // canonical name ("reason"), or "" for an unknown option
	inline      bool   // a value followed '=' in the same token
	value       string // that value; a quoted one is trimmed
	valueQuoted bool   // the inline value was double-quoted
}

// lex splits a normalized line (single spaces, no markup) into tokens.
func lex(line string) ([]token, *Error) {
	var toks []token
	for i := 0; i < len(line); {
		if line[i] == ' ' {
			i++
			continue
		}
		if line[i] == '"' {
			end := closingQuote(line, i)
			if end < 0 {
				return nil, unclosedQuote(line[i:])
			}
			toks = append(toks, token{raw: line[i : end+1], text: strings.TrimSpace(line[i+1 : end]), quoted: true})
			i = end + 1
			continue
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		t := token{raw: line[i:j], text: line[i:j]}
		if o, ok := optionWord(t.raw); ok {
			if eq := strings.IndexByte(t.raw, '='); eq >= 0 {
				o.inline = true
				v := i + eq + 1 // where the value starts
				if v < len(line) && line[v] == '"' {
					end := closingQuote(line, v)
					if end < 0 {
						return nil, unclosedQuote(line[v:])
					}
					o.value, o.valueQuoted = strings.TrimSpace(line[v+1:end]), true
					t.raw, j = line[i:end+1], end+1
				} else {
					o.value = t.raw[eq+1:]
				}
				// "--reason=" with nothing after it behaves like "--reason".
				if o.value == "" && !o.valueQuoted {
					o.inline = false
				}
			}
			t.opt = &o
		}
		toks = append(toks, t)
		i = j
	}
	return toks, nil
}

// closingQuote returns the index of the '"' that closes the one at open, or -1.
func closingQuote(line string, open int) int {
	for k := open + 1; k < len(line); k++ {
		if line[k] == '"' && (k+1 == len(line) || line[k+1] == ' ') {
			return k
		}
	}
	return -1
}

func unclosedQuote(from string) *Error {
	shown := show(from[1:])
	return &Error{Msg: fmt.Sprintf(`a quote (") is opened before %s but never closed; end the quoted text with " and a space`, shown[1:len(shown)-1])}
}

// optionWord recognises "--name", "-n" and "--name=value". Phones turn a
// typed "--" into an em or en dash, so "—reason" counts too, but only for a
// known option: a dash in prose ("laptop stolen —urgent") must stay text.
func optionWord(word string) (option, bool) {
	var body string
	dashed := false
	switch {
	case strings.HasPrefix(word, "--"):
		body = word[2:]
	case strings.HasPrefix(word, "\u2014"), strings.HasPrefix(word, "\u2013"):
		body, dashed = word[len("\u2014"):], true // both dashes are 3 bytes
	case strings.HasPrefix(word, "-"):
		body = word[1:]
	default:
		return option{}, false
	}
	// "-5", "--" and "-" are text, not options.
	if body == "" || !isASCIILetter(body[0]) {
		return option{}, false
	}
	typed := word
	name := body
	if eq := strings.IndexByte(body, '='); eq >= 0 {
		name = body[:eq]
		typed = word[:len(word)-len(body)+eq]
	}
	canon := canonicalOption(name)
	if dashed && canon == "" {
		return option{}, false
	}
	return option{typed: typed, name: canon}, true
}

// canonicalOption maps the accepted spellings of an option to its name. Only
// --reason has a short form: -a or -u would be too easy to type by accident
// for options that change when something happens.
func canonicalOption(name string) string {
	switch strings.ToLower(name) {
	case "reason", "r":
		return "reason"
	case "at":
		return "at"
	case "until":
		return "until"
	}
	return ""
}

// knownOptions are offered as did-you-mean suggestions.
var knownOptions = [...]string{"reason", "at", "until"}

// optionHelp is what each option needs, shown when its value is missing.
var optionHelp = map[string]struct{ needs, example, once string }{
	"reason": {"some text", `--reason "left the company"`, "give one reason"},
	"at":     {"a time", `--at "2026-12-01 22:00"`, "give one time"},
	"until":  {"a time", `--until "2026-12-03 09:00"`, "give one time"},
}

// options is the result of taking the options out of a token list.
type options struct {
	reason, at, until          string
	hasReason, hasAt, hasUntil bool
	first                      string // the name of the first option in the line, "" if none
}

// splitOptions separates options from positional tokens. An unquoted value
// runs to the next option or the end of the line, so
// "--reason laptop stolen at airport" and "--at 2026-12-01 22:00" need no
// quotes. The first problem is returned, but only after everything is split,
// so that the caller can first report a wrong verb (the bigger
// misunderstanding) and use its usage line.
func splitOptions(toks []token) (options, []token, *Error) {
	var (
		o   options
		pos []token
		bad *Error
	)
	fail := func(e *Error) {
		if bad == nil {
			bad = e
		}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.opt == nil {
			pos = append(pos, t)
			continue
		}
		if t.opt.name == "" {
			e := &Error{Msg: fmt.Sprintf("unknown option %s; the options are --reason (or -r), --at and --until", show(t.opt.typed))}
			// A one-letter option is too short to guess from: "-x" is not a typo of "--at".
			if typed := strings.TrimLeft(t.opt.typed, "-—–"); len(typed) > 1 {
				if s := closest(typed, knownOptions[:]); s != "" {
					e.Suggestion = "--" + s
				}
			}
			fail(e)
			continue
		}
		var v string
		switch {
		case t.opt.valueQuoted:
			v = t.opt.value
		case !t.opt.inline && i+1 < len(toks) && toks[i+1].opt == nil && toks[i+1].quoted:
			i++
			v = toks[i].text
		default:
			var parts []string
			if t.opt.inline {
				parts = append(parts, t.opt.value)
			}
			for i+1 < len(toks) && toks[i+1].opt == nil {
				i++
				parts = append(parts, toks[i].raw)
			}
			v = stripSingleQuotes(strings.Join(parts, " "))
		}
		name := t.opt.name
		if o.first == "" {
			o.first = name
		}
		val, has := &o.reason, &o.hasReason
		switch name {
		case "at":
			val, has = &o.at, &o.hasAt
		case "until":
			val, has = &o.until, &o.hasUntil
		}
		h := optionHelp[name]
		switch {
		case *has:
			fail(&Error{Msg: fmt.Sprintf("--%s is given twice; %s", name, h.once)})
		case v == "":
			fail(&Error{Msg: fmt.Sprintf("--%s needs %s, e.g. %s", name, h.needs, h.example)})
		}
		if !*has {
			*val, *has = v, true
		}
	}
	return o, pos, bad
}

// rest joins the tokens of a free-text argument (group name, match text). A
// single quoted span is taken as its contents; anything else is kept as typed,
// quotes included, minus one pair of single quotes around the whole.
func rest(toks []token) string {
	if len(toks) == 1 && toks[0].quoted {
		return toks[0].text
	}
	raws := make([]string, len(toks))
	for i, t := range toks {
		raws[i] = t.raw
	}
	return stripSingleQuotes(strings.Join(raws, " "))
}

func stripSingleQuotes(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// words splits argument tokens into the items of a list: spaces, commas and
// semicolons all separate (people paste "a@x.com; b@x.com" from Outlook), and
// quotes or angle brackets around an item are not part of it.
func words(toks []token) []string {
	var out []string
	for _, t := range toks {
		for _, w := range strings.FieldsFunc(t.raw, func(r rune) bool { return r == ' ' || r == ',' || r == ';' }) {
			if w = strings.Trim(w, `"'<>`); w != "" {
				out = append(out, w)
			}
		}
	}
	return out
}

// readsBack reports whether text, written where a free-text value goes, is
// read by Parse as exactly v. It applies the stricter of the two readings: a
// reason that starts with a quoted span ends after it, while a group name or
// match text would go on to the end of the line.
func readsBack(text, v string) bool {
	toks, err := lex(text)
	if err != nil || len(toks) == 0 {
		return false
	}
	for _, t := range toks {
		if t.opt != nil {
			return false
		}
	}
	if toks[0].quoted {
		return len(toks) == 1 && toks[0].text == v
	}
	return rest(toks) == v
}
