package commands

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// The reason is shown in one field of the request card; one that cannot fit must be refused while the admin
// can still shorten it, not cut or lost when the card is posted.
func TestReasonLength(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) } // characters, not bytes, are counted
	tests := []struct {
		name    string
		in      string
		wantErr []string
	}{
		{"exactly the limit, quoted", `user a@contoso.com --reason "` + long(MaxReasonLen) + `"`, nil},
		{"exactly the limit, to end of line", "group Sales -r " + long(MaxReasonLen), nil},
		{"one over", `user a@contoso.com --reason "` + long(MaxReasonLen+1) + `"`,
			[]string{"the reason is 1,501 characters; at most 1,500 fit on the card"}},
		{"far over, words", "match Fabrikam --reason " + strings.TrimSpace(strings.Repeat("word ", 469)),
			[]string{"the reason is 2,344 characters", "at most 1,500"}},
		{"entities count as what they decode to", `group Sales --reason="` + strings.Repeat("&amp;", MaxReasonLen) + `"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.in)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Parse error: %v", err)
				}
				if n := utf8.RuneCountInString(c.Reason); n != MaxReasonLen {
					t.Fatalf("reason has %d characters, want %d", n, MaxReasonLen)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse accepted a reason of %d characters", utf8.RuneCountInString(c.Reason))
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "Usage: /signout") {
				t.Errorf("error %q has no usage line", err)
			}
		})
	}
}

func TestHelpNamesTheReasonLimit(t *testing.T) {
	for _, topic := range []string{"", "group"} {
		if h := Help(topic); !strings.Contains(h, "at most 1,500 characters") {
			t.Errorf("Help(%q) does not give the reason's limit:\n%s", topic, h)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1500: "1,500", 1234567: "1,234,567", -2345: "-2,345"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
