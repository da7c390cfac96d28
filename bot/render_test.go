package bot

import (
	"testing"
	"time"
)

func TestFormatTimeShowsLocalAndUTC(t *testing.T) {
	at := time.Date(2026, 11, 25, 13, 5, 9, 0, time.UTC)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ny, _ := time.LoadLocation("America/New_York")
	tests := []struct {
		loc  *time.Location
		want string
	}{
		{berlin, "Wed 25 Nov 14:05:09 CET (13:05:09 UTC)"},
		{ny, "Wed 25 Nov 08:05:09 EST (13:05:09 UTC)"},
		{time.UTC, "Wed 25 Nov 13:05:09 UTC"},
		{nil, "Wed 25 Nov 13:05:09 UTC"},
	}
	for _, tt := range tests {
		if got := FormatTime(at, tt.loc); got != tt.want {
			t.Errorf("FormatTime(%v) = %q, want %q", tt.loc, got, tt.want)
		}
	}
	if got := FormatTime(time.Time{}, berlin); got != "—" {
		t.Errorf("zero time: %q", got)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2 * time.Hour: "2 h", 90 * time.Minute: "90 min", 10 * time.Minute: "10 min", 45 * time.Second: "45 s", 150 * time.Second: "2 min 30 s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
