package commands

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const guid = "0a1b2c3d-1234-4abc-8def-0123456789ab"

func TestParseForms(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Command
	}{
		// help
		{"empty", "", Command{Kind: KindHelp}},
		{"blank", " \t\n ", Command{Kind: KindHelp}},
		{"help", "help", Command{Kind: KindHelp}},
		{"help upper case", "HELP", Command{Kind: KindHelp}},
		{"help topic", "help group", Command{Kind: KindHelp, Topic: "group"}},
		{"help topic case", "Help Cancel", Command{Kind: KindHelp, Topic: "cancel"}},
		{"help topic typo", "help gruop", Command{Kind: KindHelp, Topic: "group"}},
		{"help unknown topic is kept, so help can say it is unknown", "help me please", Command{Kind: KindHelp, Topic: "me"}},
		{"help quoted unknown topic keeps its first word", `help "Me Please"`, Command{Kind: KindHelp, Topic: "me"}},
		{"help option-like topic", `help "--x"`, Command{Kind: KindHelp, Topic: "--x"}},
		{"deny with a reason after the id", "deny R7K3Q9 wrong group: use Sales EMEA", Command{Kind: KindDeny, RequestID: "R7K3Q9", Reason: "wrong group: use Sales EMEA"}},
		{"deny with --reason", `deny R7K3Q9 --reason "not approved by CAB"`, Command{Kind: KindDeny, RequestID: "R7K3Q9", Reason: "not approved by CAB"}},
		{"deny without a reason", "deny R7K3Q9", Command{Kind: KindDeny, RequestID: "R7K3Q9"}},

		// user
		{"user one", "user lester@contoso.com", Command{Kind: KindRevokeUsers, Users: []string{"lester@contoso.com"}}},
		{"user verb case", "USER lester@contoso.com", Command{Kind: KindRevokeUsers, Users: []string{"lester@contoso.com"}}},
		{"user separators", "user a@contoso.com,b@contoso.com; c@contoso.com  d@contoso.com , ;e@contoso.com",
			Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com", "b@contoso.com", "c@contoso.com", "d@contoso.com", "e@contoso.com"}}},
		{"user guid", "user " + guid, Command{Kind: KindRevokeUsers, Users: []string{guid}}},
		{"user guest upn", "user jane_fabrikam.com#EXT#@contoso.onmicrosoft.com",
			Command{Kind: KindRevokeUsers, Users: []string{"jane_fabrikam.com#EXT#@contoso.onmicrosoft.com"}}},
		{"user smtp", "user SMTP:l.smith@fabrikam.com", Command{Kind: KindRevokeUsers, Users: []string{"SMTP:l.smith@fabrikam.com"}}},
		{"user apostrophe", "user o'brien@contoso.com", Command{Kind: KindRevokeUsers, Users: []string{"o'brien@contoso.com"}}},
		{"user quoted items", `user "a@contoso.com","b@contoso.com" 'c@contoso.com'`,
			Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com", "b@contoso.com", "c@contoso.com"}}},
		{"bare refs", "lester@contoso.com bob@contoso.com",
			Command{Kind: KindRevokeUsers, Users: []string{"lester@contoso.com", "bob@contoso.com"}}},
		{"bare guid", guid, Command{Kind: KindRevokeUsers, Users: []string{guid}}},
		{"bare smtp", "smtp:x@contoso.com", Command{Kind: KindRevokeUsers, Users: []string{"smtp:x@contoso.com"}}},
		{"dedupe keeps first spelling and order", "user B@contoso.com a@contoso.com b@CONTOSO.com A@contoso.com c@contoso.com",
			Command{Kind: KindRevokeUsers, Users: []string{"B@contoso.com", "a@contoso.com", "c@contoso.com"}}},
		{"leading /signout dropped", "/signout user a@contoso.com", Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com"}}},

		// group
		{"group one word", "group Test", Command{Kind: KindRevokeGroup, Group: "Test"}},
		{"group spaces", "group Migration Wave 1", Command{Kind: KindRevokeGroup, Group: "Migration Wave 1"}},
		{"group extra spaces collapse", "group   Migration   Wave 1 ", Command{Kind: KindRevokeGroup, Group: "Migration Wave 1"}},
		{"group quoted", `group "Migration Wave 1"`, Command{Kind: KindRevokeGroup, Group: "Migration Wave 1"}},
		{"group single quoted", `group 'Migration Wave 1'`, Command{Kind: KindRevokeGroup, Group: "Migration Wave 1"}},
		{"group quoted with inner quotes", `group "Bob "The Boss""`, Command{Kind: KindRevokeGroup, Group: `Bob "The Boss"`}},
		// A quote followed by a space ends a quoted span, so this is two words kept as typed.
		{"group quoted with inner quote and space", `group "Bob "The Boss" Team"`, Command{Kind: KindRevokeGroup, Group: `"Bob "The Boss" Team"`}},
		{"group inner quotes unquoted", `group Bob "The Boss" Team`, Command{Kind: KindRevokeGroup, Group: `Bob "The Boss" Team`}},
		{"group apostrophe", "group O'Brien's team", Command{Kind: KindRevokeGroup, Group: "O'Brien's team"}},
		{"group id", "group " + guid, Command{Kind: KindRevokeGroup, Group: guid}},
		{"group quoted dash word", `group "-temp"`, Command{Kind: KindRevokeGroup, Group: "-temp"}},
		{"group with dash words", "group Wave 1 - EMEA --", Command{Kind: KindRevokeGroup, Group: "Wave 1 - EMEA --"}},
		{"group with ampersand", "group R&D", Command{Kind: KindRevokeGroup, Group: "R&D"}},

		// match
		{"match", "match (Contractor)", Command{Kind: KindRevokeMatch, Match: "(Contractor)"}},
		{"match two chars", "match ab", Command{Kind: KindRevokeMatch, Match: "ab"}},
		{"match quoted spaces", `match " Fabrikam Ltd "`, Command{Kind: KindRevokeMatch, Match: "Fabrikam Ltd"}},

		// status and cancel
		{"status", "status lester@contoso.com", Command{Kind: KindStatus, Target: "lester@contoso.com"}},
		{"status guid", "Status " + guid, Command{Kind: KindStatus, Target: guid}},
		{"cancel", "cancel r-7f3a9c_2", Command{Kind: KindCancel, RequestID: "r-7f3a9c_2"}},
		{"cancel quoted", `cancel "r-1"`, Command{Kind: KindCancel, RequestID: "r-1"}},
		{"cancel 64", "cancel " + strings.Repeat("a", 64), Command{Kind: KindCancel, RequestID: strings.Repeat("a", 64)}},

		// --reason forms
		{"reason quoted", `user a@contoso.com --reason "left the company"`,
			Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com"}, Reason: "left the company"}},
		{"reason equals", `user a@contoso.com --reason=incident-42`,
			Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com"}, Reason: "incident-42"}},
		{"reason equals quoted", `user a@contoso.com --reason="left the company"`,
			Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com"}, Reason: "left the company"}},
		{"reason equals runs on", `group Sales --reason=left the company`,
			Command{Kind: KindRevokeGroup, Group: "Sales", Reason: "left the company"}},
		{"reason to end of line", `user a@contoso.com --reason laptop stolen at the airport`,
			Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com"}, Reason: "laptop stolen at the airport"}},
		{"reason short", `user a@contoso.com -r phishing`,
			Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com"}, Reason: "phishing"}},
		{"reason short equals", `user a@contoso.com -R="x y"`,
			Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com"}, Reason: "x y"}},
		{"reason first", `--reason "tenant cutover" group Migration Wave 1`,
			Command{Kind: KindRevokeGroup, Group: "Migration Wave 1", Reason: "tenant cutover"}},
		{"reason in the middle, quoted", `group Migration --reason "cutover" Wave 1`,
			Command{Kind: KindRevokeGroup, Group: "Migration Wave 1", Reason: "cutover"}},
		{"quoted reason between refs", `user a@contoso.com --reason "x y" b@contoso.com`,
			Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com", "b@contoso.com"}, Reason: "x y"}},
		{"teams mention then /signout", "<at>Bot</at> /signout status a@contoso.com", Command{Kind: KindStatus, Target: "a@contoso.com"}},
		{"reason before bare refs", `-r "phishing" a@contoso.com`,
			Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com"}, Reason: "phishing"}},
		{"reason single quoted", `match Fabrikam --reason 'end of contract'`,
			Command{Kind: KindRevokeMatch, Match: "Fabrikam", Reason: "end of contract"}},
		{"reason with apostrophe", `match Fabrikam --reason it's over`,
			Command{Kind: KindRevokeMatch, Match: "Fabrikam", Reason: "it's over"}},
		{"reason option name case", `group Sales --REASON x`, Command{Kind: KindRevokeGroup, Group: "Sales", Reason: "x"}},
		{"reason em dash from phone", "group Sales \u2014reason stolen laptop",
			Command{Kind: KindRevokeGroup, Group: "Sales", Reason: "stolen laptop"}},
		{"reason en dash from phone", "group Sales \u2013reason=x",
			Command{Kind: KindRevokeGroup, Group: "Sales", Reason: "x"}},
		{"em dash in prose is text", "group Sales --reason stolen \u2014urgent",
			Command{Kind: KindRevokeGroup, Group: "Sales", Reason: "stolen \u2014urgent"}},
		{"quoted option is text", `group Sales "--reason" x`, Command{Kind: KindRevokeGroup, Group: `Sales "--reason" x`}},
		{"reason empty equals then words", `group Sales --reason= x y`, Command{Kind: KindRevokeGroup, Group: "Sales", Reason: "x y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
		})
	}
}

// TestParseChatMangling feeds text as Slack and Teams deliver it.
func TestParseChatMangling(t *testing.T) {
	users := func(u ...string) Command { return Command{Kind: KindRevokeUsers, Users: u} }
	tests := []struct {
		name string
		in   string
		want Command
	}{
		{"slack mailto link", "user <mailto:lester@contoso.com|lester@contoso.com>", users("lester@contoso.com")},
		{"slack mailto without label", "user <mailto:lester@contoso.com>", users("lester@contoso.com")},
		{"slack bare links", "<mailto:a@contoso.com|a@contoso.com> <mailto:b@contoso.com|b@contoso.com>", users("a@contoso.com", "b@contoso.com")},
		{"slack link inside guest upn", "user jane_<http://fabrikam.com|fabrikam.com>#EXT#@<http://contoso.onmicrosoft.com|contoso.onmicrosoft.com>",
			users("jane_fabrikam.com#EXT#@contoso.onmicrosoft.com")},
		{"slack smtp prefix then link", "user smtp:<mailto:x@contoso.com|x@contoso.com>", users("smtp:x@contoso.com")},
		{"slack url link", "group <http://R.and.D|R.and.D> team", Command{Kind: KindRevokeGroup, Group: "R.and.D team"}},
		{"slack entities", "group R&amp;D &lt;EU&gt;", Command{Kind: KindRevokeGroup, Group: "R&D <EU>"}},
		{"slack double escaped entity", "group R&amp;amp;D", Command{Kind: KindRevokeGroup, Group: "R&amp;D"}},
		{"smart double quotes", "group \u201CMigration Wave 1\u201D --reason \u201Ccutover\u201D",
			Command{Kind: KindRevokeGroup, Group: "Migration Wave 1", Reason: "cutover"}},
		{"smart single quotes", "group \u2018Sales\u2019 --reason it\u2019s over",
			Command{Kind: KindRevokeGroup, Group: "Sales", Reason: "it's over"}},
		{"smart quotes around refs", "user \u201Ca@contoso.com\u201D", users("a@contoso.com")},
		{"non-breaking spaces", "user\u00A0a@contoso.com\u00A0b@contoso.com", users("a@contoso.com", "b@contoso.com")},
		{"other unicode spaces", "group\u2007Migration\u3000Wave\u202F1", Command{Kind: KindRevokeGroup, Group: "Migration Wave 1"}},
		{"zero width space in address", "user les\u200Bter@contoso.com\uFEFF", users("lester@contoso.com")},
		{"soft hyphen in address", "user les\u00ADter@contoso.com", users("lester@contoso.com")},
		{"bidi override removed", "group \u202ESales\u202C", Command{Kind: KindRevokeGroup, Group: "Sales"}},
		{"teams mention", "<at>Signout Bot</at> user a@contoso.com", users("a@contoso.com")},
		{"teams html", "<p><at>Signout Bot</at>&nbsp;group Migration Wave&nbsp;1</p>", Command{Kind: KindRevokeGroup, Group: "Migration Wave 1"}},
		{"teams paragraphs", "<p>user a@contoso.com</p><p>b@contoso.com</p>", users("a@contoso.com", "b@contoso.com")},
		{"teams line break", "user a@contoso.com<br/>b@contoso.com<br>c@contoso.com", users("a@contoso.com", "b@contoso.com", "c@contoso.com")},
		{"teams mailto anchor", `user <a href="mailto:a@contoso.com">a@contoso.com</a>`, users("a@contoso.com")},
		{"teams entity quote", "group &quot;Sales EMEA&quot;", Command{Kind: KindRevokeGroup, Group: "Sales EMEA"}},
		{"teams numeric entity", "group Sales&#32;EMEA", Command{Kind: KindRevokeGroup, Group: "Sales EMEA"}},
		{"teams upper case tags", "<P><AT>Bot</AT> help</P>", Command{Kind: KindHelp}},
		{"newlines between refs", "user a@contoso.com\r\nb@contoso.com\n", users("a@contoso.com", "b@contoso.com")},
		{"escaped html is text", "group &lt;p&gt;x", Command{Kind: KindRevokeGroup, Group: "<p>x"}},
		{"unclosed bracket is text", "group a <b", Command{Kind: KindRevokeGroup, Group: "a <b"}},
		{"mention only", "<at>Signout Bot</at>", Command{Kind: KindHelp}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		contains   []string // each must appear in Error()
		suggestion string
		usageOf    Kind // the Usage must be this kind's; -1 for the general one, -2 for none
	}{
		{"unknown verb with suggestion", "gruop Sales", []string{`unknown command "gruop"`, `Did you mean "group"?`}, "group", KindRevokeGroup},
		{"verb typo case", "STAUTS a@contoso.com", []string{`unknown command "STAUTS"`}, "status", KindStatus},
		{"plural verb", "users a@contoso.com", []string{`unknown command "users"`}, "user", KindRevokeUsers},
		{"not a verb nor a user", "Lester Smith", []string{`"Lester" is not a command or a user`, "match"}, "", -1},
		{"unknown option", "group Sales --reson x", []string{`unknown option "--reson"`}, "--reason", KindRevokeGroup},
		{"unknown short option", "user a@contoso.com -x", []string{`unknown option "-x"`}, "", KindRevokeUsers},
		{"unknown option equals", "user a@contoso.com --force=yes", []string{`unknown option "--force"`}, "", KindRevokeUsers},
		{"reason twice", "group Sales -r a --reason b", []string{"--reason is given twice"}, "", KindRevokeGroup},
		{"reason empty", "group Sales --reason", []string{"--reason needs some text"}, "", KindRevokeGroup},
		{"reason empty quoted", `group Sales --reason ""`, []string{"--reason needs some text"}, "", KindRevokeGroup},
		{"reason empty equals quoted", `group Sales --reason=""`, []string{"--reason needs some text"}, "", KindRevokeGroup},
		{"reason on status", "status a@contoso.com --reason x", []string{"--reason only goes with a sign-out", "not with status"}, "", KindStatus},
		{"reason on cancel", "cancel r-1 -r x", []string{"not with cancel"}, "", KindCancel},
		{"reason on help", "help --reason x", []string{"not with help"}, "", KindHelp},
		{"reason swallows bare refs", "-r phishing a@contoso.com", []string{"nothing to sign out", "put it last or quote it"}, "", KindRevokeUsers},
		{"user empty", "user", []string{"user needs at least one", "/signout user lester@contoso.com"}, "", KindRevokeUsers},
		{"user only separators", "user , ;", []string{"user needs at least one"}, "", KindRevokeUsers},
		{"user not a ref", "user bob", []string{`"bob" is not a user`, "not an e-mail address, UPN or object id", "lester@contoso.com"}, "", KindRevokeUsers},
		{"user domain without dot", "user bob@contoso", []string{`"bob@contoso" is not a user`, `domain "contoso" has no dot`}, "", KindRevokeUsers},
		{"bare invalid ref", "bob@contoso", []string{`"bob@contoso" is not a user`}, "", KindRevokeUsers},
		{"user two ats", "user a@b@contoso.com", []string{"more than one @"}, "", KindRevokeUsers},
		{"user nothing before at", "user x@contoso.com @contoso.com", []string{`"@contoso.com" is not a user`, "@mention"}, "", KindRevokeUsers},
		{"slack user mention", "user <@U024BE7LH|lester>", []string{`"@lester" is not a user`, "@mention"}, "", KindRevokeUsers},
		{"teams person mention", "user <at>Lester Smith</at>", []string{`"@Lester" is not a user`, "@mention"}, "", KindRevokeUsers},
		{"user trailing dot", "user a@contoso.com.", []string{"empty part"}, "", KindRevokeUsers},
		{"user bad local char", "user a(b)@contoso.com", []string{`contains "("`}, "", KindRevokeUsers},
		{"user bad domain char", "user a@con_toso.com", []string{`contains "_"`}, "", KindRevokeUsers},
		{"user numeric tld", "user a@10.0.0.1", []string{"does not end in a name"}, "", KindRevokeUsers},
		{"user hyphen label", "user a@-contoso.com", []string{"hyphen"}, "", KindRevokeUsers},
		{"user dot in local", "user .a@contoso.com", []string{"dot"}, "", KindRevokeUsers},
		{"bad guid", "user 0a1b2c3d-1234-4abc-8def-0123456789", []string{"looks like an object id but is not one"}, "", KindRevokeUsers},
		{"bad smtp", "user smtp:bob", []string{`"smtp:bob" is not a user`, "after smtp:"}, "", KindRevokeUsers},
		{"ref too long", "user " + strings.Repeat("a", 250) + "@contoso.com", []string{"262 characters long; the limit is 256"}, "", KindRevokeUsers},
		{"several bad refs", "user bob alice a@contoso.com carol", []string{"3 entries are not users", `"bob"`}, "", KindRevokeUsers},
		{"group empty", "group", []string{"group needs a group name or object id", `/signout group "Migration Wave 1"`}, "", KindRevokeGroup},
		{"group empty quoted", `group ""`, []string{"group needs"}, "", KindRevokeGroup},
		{"group only reason", "group --reason x", []string{"group needs"}, "", KindRevokeGroup},
		{"group too long", "group " + strings.Repeat("x", 257), []string{"257 characters long; the limit is 256"}, "", KindRevokeGroup},
		{"match empty", "match", []string{"match needs the text", "/signout match"}, "", KindRevokeMatch},
		{"match one char", "match a", []string{`match text "a" is too short`, "at least 2", "almost every user"}, "", KindRevokeMatch},
		{"match one char quoted", `match " a "`, []string{"too short"}, "", KindRevokeMatch},
		{"status empty", "status", []string{"status needs one user", "/signout status lester@contoso.com"}, "", KindStatus},
		{"status two", "status a@contoso.com, b@contoso.com", []string{"exactly one user", "2 were given"}, "", KindStatus},
		{"status bad ref", "status bob", []string{`"bob" is not a user`}, "", KindStatus},
		{"cancel empty", "cancel", []string{"cancel needs the request id", "/signout cancel"}, "", KindCancel},
		{"cancel two", "cancel r-1 r-2", []string{"exactly one request id"}, "", KindCancel},
		{"cancel bad chars", "cancel r/1", []string{`"r/1" is not a request id`}, "", KindCancel},
		{"cancel too long", "cancel " + strings.Repeat("a", 65), []string{"is not a request id", "1 to 64"}, "", KindCancel},
		{"deny empty", "deny", []string{"deny needs the request id", "/signout deny"}, "", KindDeny},
		{"deny reason twice", `deny R1 because --reason "x"`, []string{"give the reason once"}, "", KindDeny},
		{"unclosed quote", `group "Migration Wave 1`, []string{"never closed", "Migration Wave 1"}, "", -2},
		{"unclosed quote in option", `user a@contoso.com --reason="x y`, []string{"never closed"}, "", -2},
		{"control character", "user a@contoso.com\x07", []string{"control character (U+0007)"}, "", -2},
		{"escape sequence", "group \x1b[31mred", []string{"control character (U+001B)"}, "", -2},
		{"control character as entity", "group a&#7;b", []string{"control character (U+0007)"}, "", -2},
		{"nul", "help\x00", []string{"control character (U+0000)"}, "", -2},
		{"invalid utf-8", "group \xff\xfe", []string{"not valid UTF-8"}, "", -2},
		{"too long", "user " + strings.Repeat("a@contoso.com ", 600), []string{"too long", "8405 bytes", "limit is 8000", `"group`}, "", -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want an error", tt.in, got)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T is not *Error", tt.in, err)
			}
			if !reflect.DeepEqual(got, Command{}) {
				t.Errorf("Parse(%q) returned %#v with the error, want the zero Command", tt.in, got)
			}
			msg := err.Error()
			for _, want := range tt.contains {
				if !strings.Contains(msg, want) {
					t.Errorf("Parse(%q) error %q does not mention %q", tt.in, msg, want)
				}
			}
			if pe.Suggestion != tt.suggestion {
				t.Errorf("Parse(%q) suggestion = %q, want %q", tt.in, pe.Suggestion, tt.suggestion)
			}
			var wantUsage string
			switch tt.usageOf {
			case -1:
				wantUsage = generalUsage
			case -2:
				wantUsage = ""
			default:
				wantUsage = usage(tt.usageOf)
			}
			if pe.Usage != wantUsage {
				t.Errorf("Parse(%q) usage = %q, want %q", tt.in, pe.Usage, wantUsage)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	_, err := Parse("gruop Sales")
	want := `unknown command "gruop". Did you mean "group"? Usage: /signout group <name or id> [--at "<when>"] [--reason "…"]`
	if err == nil || err.Error() != want {
		t.Fatalf("Parse error = %v, want %s", err, want)
	}
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Msg: "plain"}, "plain."},
		{Error{Msg: "already ends."}, "already ends."},
		{Error{Msg: "m", Usage: "u"}, "m. Usage: u"},
		{Error{Msg: "m", Suggestion: "s"}, `m. Did you mean "s"?`},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestMaxUsers(t *testing.T) {
	refs := func(n int, domain string) string {
		var b strings.Builder
		b.WriteString("user")
		for i := 0; i < n; i++ {
			b.WriteString(" u" + strconv.Itoa(i) + "@" + domain)
		}
		return b.String()
	}
	tests := []struct {
		name    string
		in      string
		wantN   int
		wantErr string
	}{
		{"exactly the limit", refs(MaxUsers, "c.io"), MaxUsers, ""},
		{"one over the limit", refs(MaxUsers+1, "c.io"), 0, "too many users: 501 in one request, the limit is 500"},
		{"over the limit only with repeats", refs(MaxUsers, "c.io") + strings.ToUpper(refs(20, "c.io")[4:]), MaxUsers, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), `"group"`) {
					t.Fatalf("error = %v, want one containing %q and advice to use group", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Users) != tt.wantN {
				t.Fatalf("got %d users, want %d", len(c.Users), tt.wantN)
			}
		})
	}
}

func TestRefProblem(t *testing.T) {
	tests := []struct {
		ref   string
		valid bool
	}{
		{"lester@contoso.com", true},
		{"Lester.Smith+tag@sub.contoso.co.uk", true},
		{"jane_fabrikam.com#EXT#@contoso.onmicrosoft.com", true},
		{"ünïcödé@exämple.de", true},
		{guid, true},
		{strings.ToUpper(guid), true},
		{"smtp:a@contoso.com", true},
		{"SmTp:a@contoso.com", true},
		{"a@xn--bcher-kva.example", true},
		{"", false},
		{"lester", false},
		{"lester@", false},
		{"@contoso.com", false},
		{"lester@contoso", false},
		{"lester@contoso..com", false},
		{"lester@.contoso.com", false},
		{"a..b@contoso.com", false},
		{"a.@contoso.com", false},
		{"a b@contoso.com", false},
		{"a@b@contoso.com", false},
		{"a@contoso.123", false},
		{"smtp:", false},
		{"smtp:lester", false},
		{guid[:35], false},
		{guid + "0", false},
		{"0a1b2c3d-1234-4abc-8def-0123456789ag", false},
		{"a@" + strings.Repeat("x", 64) + ".com", false},
		{strings.Repeat("a", 244) + "@contoso.com", true}, // 256 characters
		{strings.Repeat("a", 245) + "@contoso.com", false},
	}
	for _, tt := range tests {
		p := refProblem(tt.ref)
		if got := p == ""; got != tt.valid {
			t.Errorf("refProblem(%q) = %q, want valid=%v", tt.ref, p, tt.valid)
		}
	}
}

func TestKindString(t *testing.T) {
	want := map[Kind]string{KindHelp: "help", KindRevokeUsers: "user", KindRevokeGroup: "group",
		KindRevokeMatch: "match", KindStatus: "status", KindCancel: "cancel", KindDeny: "deny",
		KindSchedule: "schedule", KindPolicy: "policy", KindAudit: "audit", Kind(42): "Kind(42)"}
	for k, w := range want {
		if got := k.String(); got != w {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, w)
		}
	}
}

func TestClosest(t *testing.T) {
	cands := []string{"help", "user", "group", "match", "status", "cancel"}
	tests := []struct{ in, want string }{
		{"gruop", "group"}, {"GROUP", "group"}, {"grp", "group"}, {"usr", "user"}, {"cancle", "cancel"},
		{"stat", "status"}, {"hepl", "help"}, {"xyz", ""}, {"", ""}, {"groupies", ""}, {strings.Repeat("g", 1000), ""},
	}
	for _, tt := range tests {
		if got := closest(tt.in, cands); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHelp(t *testing.T) {
	full := Help("")
	for _, name := range verbNames() {
		if !strings.Contains(full, usageOf(name)) {
			t.Errorf("Help(\"\") lacks the usage of %s: %q", name, usageOf(name))
		}
	}
	if !strings.Contains(full, "--reason") || !strings.Contains(full, "second admin") {
		t.Errorf("Help(\"\") does not explain --reason and approval:\n%s", full)
	}
	for _, topic := range []string{"help", " "} {
		if got := Help(topic); got != full {
			t.Errorf("Help(%q) is not the full help", topic)
		}
	}
	// An unknown form is named as unknown, then the full help follows.
	if got := Help("nonsense"); !strings.HasPrefix(got, `There is no form called "nonsense"`) || !strings.HasSuffix(got, full) {
		t.Errorf("Help(\"nonsense\") = %q", got)
	}
	if got, want := topicNames(), verbNames()[1:]; len(got) != len(want) {
		t.Errorf("help topics %v do not cover the verbs %v", got, want)
	}
	for _, name := range topicNames() {
		t.Run(name, func(t *testing.T) {
			h := Help(strings.ToUpper(name))
			if !strings.Contains(h, usageOf(name)) {
				t.Errorf("Help(%q) lacks its usage", name)
			}
			if len(h) >= len(full) {
				t.Errorf("Help(%q) is not narrower than the full help", name)
			}
			for _, other := range verbNames() {
				if other != name && strings.Contains(h, usageOf(other)) {
					t.Errorf("Help(%q) also shows %s", name, other)
				}
			}
			// "help <form>" must reach this help, or the help names a topic nobody can ask for.
			if c, err := Parse("help " + name); err != nil || c.Topic != name {
				t.Errorf("Parse(\"help %s\") = %#v, %v", name, c, err)
			}
		})
	}
	// Every example must be a command that works, or the help teaches errors.
	for _, s := range helpSections() {
		for _, ex := range s.examples {
			c, err := Parse(strings.TrimPrefix(ex, "/signout"))
			if err != nil {
				t.Errorf("help example %q does not parse: %v", ex, err)
				continue
			}
			if c.Kind != s.kind && !s.plan || s.plan && (!c.Plan || !c.Kind.revokes()) {
				t.Errorf("help example %q parses as %s (plan %v), want %s (plan %v)", ex, c.Kind, c.Plan, s.kind, s.plan)
			}
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	tests := []struct {
		c    Command
		want string // canonical text; "" to only check the round trip
	}{
		{Command{Kind: KindHelp}, "help"},
		{Command{Kind: KindHelp, Topic: "match"}, "help match"},
		{Command{Kind: KindHelp, Topic: "--x"}, `help "--x"`},
		{Command{Kind: KindHelp, Topic: "0"}, "help 0"},
		{Command{Kind: KindRevokeUsers, Users: []string{"-a@contoso.com", "b@contoso.com"}}, `user "-a@contoso.com" b@contoso.com`},
		{Command{Kind: KindStatus, Target: "-r=a@contoso.com"}, `status "-r=a@contoso.com"`},
		{Command{Kind: KindCancel, RequestID: "-x"}, `cancel "-x"`},
		{Command{Kind: KindAudit, Target: "-a@contoso.com"}, `audit "-a@contoso.com"`},
		{Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com", guid}, Reason: "left"}, "user a@contoso.com " + guid + ` --reason "left"`},
		{Command{Kind: KindRevokeGroup, Group: "Migration Wave 1"}, `group "Migration Wave 1"`},
		{Command{Kind: KindRevokeGroup, Group: "R&D <EU>"}, `group "R&D &lt;EU>"`},
		{Command{Kind: KindRevokeGroup, Group: "R&amp;D"}, `group "R&amp;amp;D"`},
		{Command{Kind: KindRevokeGroup, Group: `say "hi" now`}, `group say "hi" now`},
		{Command{Kind: KindRevokeGroup, Group: `"a" b`}, `group ' "a" b '`},
		{Command{Kind: KindRevokeGroup, Group: `'a "b" c'`}, `group ' 'a "b" c' '`},
		{Command{Kind: KindRevokeGroup, Group: `'quoted'`}, `group "'quoted'"`},
		{Command{Kind: KindRevokeGroup, Group: `ends with "`}, `group "ends with ""`},
		{Command{Kind: KindRevokeGroup, Group: "--reason"}, `group "--reason"`},
		{Command{Kind: KindRevokeMatch, Match: "(Contractor)", Reason: `it's "done" now`}, `match "(Contractor)" --reason it's "done" now`},
		{Command{Kind: KindRevokeMatch, Match: "ab", Reason: `"x" y`}, `match "ab" --reason ' "x" y '`},
		{Command{Kind: KindRevokeMatch, Match: "ab", Reason: `" " 00`}, `match "ab" --reason ' " " 00 '`},
		{Command{Kind: KindStatus, Target: "smtp:a@contoso.com"}, "status smtp:a@contoso.com"},
		{Command{Kind: KindCancel, RequestID: "r-1"}, "cancel r-1"},
		{Command{Kind: KindDeny, RequestID: "R7K3Q9P", Reason: "wrong group"}, `deny R7K3Q9P --reason "wrong group"`},
		{Command{Kind: KindRevokeGroup, Group: "Migrated", At: "2026-12-01 22:00", Reason: "wave 1"},
			`group "Migrated" --at "2026-12-01 22:00" --reason "wave 1"`},
		{Command{Kind: KindRevokeUsers, Users: []string{"a@x.com"}, At: "tomorrow 06:00 Europe/Berlin"}, `user a@x.com --at "tomorrow 06:00 Europe/Berlin"`},
		{Command{Kind: KindRevokeGroup, Group: "Migrated", Plan: true}, `plan group "Migrated"`},
		{Command{Kind: KindRevokeMatch, Match: "Test", Plan: true, At: "2026-12-01T22:00Z"}, `plan match "Test" --at "2026-12-01T22:00Z"`},
		{Command{Kind: KindRevokeUsers, Users: []string{"a@x.com"}, Plan: true}, "plan user a@x.com"},
		{Command{Kind: KindSchedule}, "schedule"},
		{Command{Kind: KindPolicy}, "policy"},
		{Command{Kind: KindPolicy, PolicyAction: PolicyReset}, "policy reset"},
		{Command{Kind: KindPolicy, PolicyAction: PolicySet, Lifetime: 90 * time.Minute, Until: "2026-12-03 09:00", Reason: "cutover"},
			`policy set 1h30m --until "2026-12-03 09:00" --reason "cutover"`},
		{Command{Kind: KindPolicy, PolicyAction: PolicySet, Lifetime: 24 * time.Hour, Until: "tomorrow 06:00"}, `policy set 24h --until "tomorrow 06:00"`},
		{Command{Kind: KindAudit, Target: "r7k3q9p", AuditRequest: true}, "audit r7k3q9p"},
		{Command{Kind: KindAudit, Target: "lester@contoso.com"}, "audit lester@contoso.com"},
	}
	for _, tt := range tests {
		s := tt.c.String()
		if tt.want != "" && s != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.c, s, tt.want)
		}
		got, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q) error: %v", s, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.c) {
			t.Errorf("Parse(%q)\n got %#v\nwant %#v", s, got, tt.c)
		}
	}
}
