package bot

import (
	"reflect"
	"testing"
	"time"
)

func TestParseMarkup(t *testing.T) {
	at := time.Date(2026, 12, 2, 13, 5, 0, 0, time.UTC)
	s := "*Bob* " + Mention("slack", "UBOB", "Bob \ue001Evil") + " approved " + Literal("*x* <!channel> \ue003") + " at " + Time(at) + "."
	got := Parse(s)
	want := []Part{
		{Kind: KindText, Text: "*Bob* "},
		{Kind: KindMention, Platform: "slack", ID: "UBOB", Name: "Bob Evil"},
		{Kind: KindText, Text: " approved "},
		{Kind: KindLiteral, Text: "*x* <!channel> "},
		{Kind: KindText, Text: " at "},
		{Kind: KindTime, Time: at},
		{Kind: KindText, Text: "."},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", got, want)
	}
	if p := PlainText(s); p != "*Bob* Bob Evil approved *x* <!channel>  at Wed 2 Dec 13:05:00 UTC." {
		t.Errorf("PlainText = %q", p)
	}
	if Time(time.Time{}) != "—" {
		t.Error("zero time")
	}
}
