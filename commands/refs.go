package commands

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// refForms is part of every "not a user" error so the admin sees at once what
// a valid reference looks like.
const refForms = "an e-mail address or UPN (lester@contoso.com), a guest UPN " +
	"(jane_fabrikam.com#EXT#@contoso.onmicrosoft.com), an object id (0a1b2c3d-1234-4abc-8def-0123456789ab) " +
	"or smtp:address"

// refProblem says why ref is not a user reference, in words an admin can act
// on, or returns "" when it is one. Validation is syntactic only: whether the
// user exists is for the directory to say.
func refProblem(ref string) string {
	if n := utf8.RuneCountInString(ref); n > maxRefLen {
		return fmt.Sprintf("it is %d characters long; the limit is %d", n, maxRefLen)
	}
	if isGUID(ref) {
		return ""
	}
	if len(ref) >= 5 && strings.EqualFold(ref[:5], "smtp:") {
		if p := emailProblem(ref[5:]); p != "" {
			return "after smtp: " + p
		}
		return ""
	}
	if strings.HasPrefix(ref, "@") {
		return "it looks like a chat @mention, which cannot be used; type the person's e-mail address or UPN"
	}
	if !strings.Contains(ref, "@") {
		if looksLikeID(ref) {
			return "it looks like an object id but is not one (object ids have 8-4-4-4-12 hex digits)"
		}
		return "it is not an e-mail address, UPN or object id"
	}
	return emailProblem(ref)
}

// emailProblem checks the shape of an address (or UPN). It accepts what Entra
// and Exchange accept, including guest UPNs whose local part carries "#EXT#",
// and refuses what is certainly a typo, such as a domain without a dot.
func emailProblem(addr string) string {
	switch strings.Count(addr, "@") {
	case 0:
		return "there is no @ in it"
	case 1:
	default:
		return "it has more than one @"
	}
	local, domain, _ := strings.Cut(addr, "@")
	if local == "" {
		return "there is nothing before the @"
	}
	if domain == "" {
		return "there is no domain after the @"
	}
	for _, r := range local {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(".!#$%&'*+-/=?^_`{|}~", r) {
			return fmt.Sprintf("it contains %s, which cannot be part of an address", show(string(r)))
		}
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "the part before the @ has a dot at its start or end, or two dots in a row"
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return fmt.Sprintf("the domain %s has no dot (a full domain looks like contoso.com)", show(domain))
	}
	if len(domain) > 253 {
		return "the domain is longer than 253 characters"
	}
	for _, l := range labels {
		if l == "" {
			return fmt.Sprintf("the domain %s has an empty part (check for a doubled or trailing dot)", show(domain))
		}
		if len(l) > 63 {
			return fmt.Sprintf("the domain %s has a part longer than 63 characters", show(domain))
		}
		for _, r := range l {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' {
				return fmt.Sprintf("the domain %s contains %s, which cannot be part of a domain", show(domain), show(string(r)))
			}
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Sprintf("the domain %s has a part starting or ending with a hyphen", show(domain))
		}
	}
	if tld := labels[len(labels)-1]; strings.IndexFunc(tld, unicode.IsLetter) < 0 {
		return fmt.Sprintf("the domain %s does not end in a name like .com", show(domain))
	}
	return ""
}

// isGUID reports the 8-4-4-4-12 hex form Graph uses for object ids.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// looksLikeID reports text that was probably meant as an object id (hex
// digits with at least one hyphen, or 32 hex digits), so a mistyped id is
// reported as such instead of as an unknown command.
func looksLikeID(s string) bool {
	if len(s) < 8 {
		return false
	}
	hyphen := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '-':
			hyphen = true
		case !isHex(s[i]):
			return false
		}
	}
	return hyphen || len(s) == 32
}

// looksLikeRef decides the bare form (/signout a@x.com): a first word that
// is meant as a user, even a mistyped one, is parsed as a user list, so the
// error talks about the address rather than an unknown command.
func looksLikeRef(w string) bool {
	return strings.Contains(w, "@") || (len(w) >= 5 && strings.EqualFold(w[:5], "smtp:")) || looksLikeID(w)
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// validRequestID keeps ids to characters that are safe in chat, URLs and logs.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !isASCIILetter(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// requestIDAlphabet and requestIDLen describe the ids the bot issues (see
// newRequestID in package bot): "R" and six characters without 0, O, 1 and I,
// which are confused when an id is read aloud.
const (
	requestIDAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	requestIDLen      = 7
)

// isIssuedRequestID reports whether s has the shape of an id the bot issues,
// in either case (ids are read aloud and retyped). Unlike validRequestID, it
// tells a request id from anything else, such as a user reference.
func isIssuedRequestID(s string) bool {
	if len(s) != requestIDLen || s[0] != 'R' && s[0] != 'r' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !strings.ContainsRune(requestIDAlphabet, unicode.ToUpper(rune(s[i]))) {
			return false
		}
	}
	return true
}

// looksLikeIssuedRequestID reports text that was probably meant as a request
// id: R, then letters and digits with at least one digit. A name such as
// "Robert" is not one, so its error talks about users instead.
func looksLikeIssuedRequestID(s string) bool {
	if len(s) < 4 || len(s) > 12 || s[0] != 'R' && s[0] != 'r' {
		return false
	}
	digit := false
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case !isASCIILetter(c):
			return false
		}
	}
	return digit
}

// closest returns the candidate nearest to word (ignoring case) if it is at
// most 2 edits away, else "". Ties go to the earlier candidate.
func closest(word string, candidates []string) string {
	word = strings.ToLower(word)
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein(word, c, bestDist); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// levenshtein is the edit distance between a and b, counted in runes. It
// gives up early (returning limit) once the distance must reach limit, which
// keeps a long pasted word from costing a full quadratic table.
func levenshtein(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(rb)], limit)
}

// show quotes something the admin typed for an error message, shortened so a
// pasted paragraph does not drown the explanation.
func show(s string) string {
	const maxShown = 60
	if utf8.RuneCountInString(s) > maxShown {
		r := []rune(s)
		s = string(r[:maxShown]) + "…"
	}
	return `"` + s + `"`
}
