package commands

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// whenForms ends every error about a time, so that the admin sees at once a
// form that works.
const whenForms = "Write a time as 2026-12-01 22:00 (or 2026-12-01T22:00; seconds are optional, 22:00:05), " +
	"in your own time zone unless you add one: UTC, Z, an offset such as +01:00 or -0500, or a name such as " +
	"Europe/Berlin (2026-12-01 22:00 Europe/Berlin). Full RFC 3339 (2026-12-01T22:00:00Z) works too, and so do " +
	"today 22:00 and tomorrow 06:00"

// maxWhenLen bounds a time's text: the longest real one (RFC 3339 with
// nanoseconds and a long zone name) is far shorter, and a zone name is looked
// up in the time zone database, which should not be fed a pasted paragraph.
const maxWhenLen = 100

// checkNow is the "now" Parse checks --at and --until against. Whether a text
// is a time does not depend on now (or on the zone): now only says which day
// "today" is. Parse does not know the requester's clock or zone, so it only
// refuses what can never be a time and leaves "that is in the past" to the
// caller, which resolves the text again with ParseWhen and the real clock.
var checkNow = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ParseWhen reads the text of a --at or --until: the bot's one time grammar.
// Words are case-insensitive; a space may separate the parts as shown.
//
//	2026-12-01 22:00                 a date and a 24-hour time of day (H:MM or HH:MM), in loc
//	2026-12-01T22:00:05              T instead of the space; seconds, and a fraction of them, optional
//	2026-12-01 22:00 UTC             then, with or without a space, a zone that replaces loc:
//	2026-12-01 22:00+01:00             UTC, GMT or Z; an offset, ±HH:MM or ±HHMM;
//	2026-12-01 22:00 Europe/Berlin     or an IANA name (with a slash; case-sensitive)
//	2026-12-01T22:00:00.5Z           so full RFC 3339 is one of the forms
//	today 22:00, tomorrow 06:00      that day as it is at now in loc, or in the named zone
//
// A nil loc means UTC. Whether s is accepted depends only on s (and on the
// time zone database for zone names), never on loc or now, so text that
// Parse accepted is accepted here too.
//
// A wall time that a daylight-saving change skips or repeats in the zone is
// resolved by a fixed rule rather than by time.Date, whose documentation
// leaves the choice open (and which in practice moves a skipped 02:30 forward
// in Europe/Berlin but back in America/New_York): a skipped time moves forward
// by the length of the gap (02:30 on the night clocks go from 02:00 to 03:00
// is 03:30 summer time), and a repeated time is the first of the two instants
// (02:30 on the night clocks go back is 02:30 summer time). That is the rule
// of iCalendar (RFC 5545) and java.time, and the earlier instant is the safe
// side for a sign-out or for ending a policy change.
//
// Errors are *Error, worded for the admin, with the forms that work.
func ParseWhen(s string, loc *time.Location, now time.Time) (time.Time, error) {
	t, p := parseWhen(s, loc, now)
	if p != "" {
		return time.Time{}, whenError("", s, p)
	}
	return t, nil
}

// whenError explains why s, the value of option (or of nothing, if option is
// ""), is not a time.
func whenError(option, s, problem string) *Error {
	prefix := ""
	if option != "" {
		prefix = "--" + option + " "
	}
	return &Error{Msg: fmt.Sprintf("%s%s is not a time: %s. %s", prefix, show(s), problem, whenForms)}
}

// parseWhen is ParseWhen with the problem, if any, as a phrase to build an
// error around.
func parseWhen(s string, loc *time.Location, now time.Time) (time.Time, string) {
	if loc == nil {
		loc = time.UTC
	}
	if len(s) > maxWhenLen {
		return time.Time{}, "it is too long to be a time"
	}
	f := strings.Fields(s)
	if len(f) == 0 {
		return time.Time{}, "it is empty"
	}
	var (
		y        int
		mo       time.Month
		d        int
		relative string // "today" or "tomorrow", else ""
		clockAt  string // the text from the time of day on
	)
	switch w := strings.ToLower(f[0]); w {
	case "today", "tomorrow":
		relative = w
		if clockAt = strings.Join(f[1:], " "); clockAt == "" {
			return time.Time{}, fmt.Sprintf("it says %s but not when, e.g. %s 06:00", w, w)
		}
	default:
		var p string
		if y, mo, d, p = date(f[0]); p != "" {
			return time.Time{}, p
		}
		switch after := f[0][len("2006-01-02"):]; {
		case after == "":
			clockAt = strings.Join(f[1:], " ")
		case after[0] == 'T' || after[0] == 't':
			clockAt = strings.Join(append([]string{after[1:]}, f[1:]...), " ")
		default:
			return time.Time{}, "the date must be followed by a space or T and the time of day, e.g. 2026-12-01 22:00"
		}
		if clockAt == "" {
			return time.Time{}, "it has a date but no time of day; add one, e.g. " + f[0][:len("2006-01-02")] + " 22:00"
		}
	}
	h, mi, sec, ns, zoneText, p := clock(clockAt)
	if p != "" {
		return time.Time{}, p
	}
	if zoneText != "" {
		if loc, p = zone(zoneText); p != "" {
			return time.Time{}, p
		}
	}
	if relative != "" {
		y, mo, d = now.In(loc).Date()
		if relative == "tomorrow" {
			// Noon UTC keeps the day arithmetic clear of any zone's changes.
			y, mo, d = time.Date(y, mo, d+1, 12, 0, 0, 0, time.UTC).Date()
		}
	}
	return wallTime(y, mo, d, h, mi, sec, ns, loc), ""
}

// date reads the YYYY-MM-DD at the start of w and checks that the day exists.
func date(w string) (int, time.Month, int, string) {
	if len(w) < len("2006-01-02") || !digits(w[0:4]) || w[4] != '-' || !digits(w[5:7]) || w[7] != '-' || !digits(w[8:10]) {
		switch {
		case strings.ContainsAny(w, "./-") && len(w) > 0 && w[0] >= '0' && w[0] <= '9':
			return 0, 0, 0, "write the date as year-month-day with 4, 2 and 2 digits, e.g. 2026-12-01, " +
				"which nobody reads with the day and month swapped"
		case strings.Contains(w, ":"):
			return 0, 0, 0, "it has no day; say which, e.g. today 22:00, tomorrow 06:00 or 2026-12-01 22:00"
		}
		return 0, 0, 0, "it does not start with a date (2026-12-01), today or tomorrow"
	}
	y, _ := strconv.Atoi(w[0:4])
	m, _ := strconv.Atoi(w[5:7])
	d, _ := strconv.Atoi(w[8:10])
	if m < 1 || m > 12 {
		return 0, 0, 0, fmt.Sprintf("there is no month %d", m)
	}
	// Day 0 of the next month is the last day of this one.
	if last := time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day(); d < 1 || d > last {
		return 0, 0, 0, fmt.Sprintf("%s %d has %d days, so there is no day %d", time.Month(m), y, last, d)
	}
	return y, time.Month(m), d, ""
}

// clock reads a 24-hour time of day, H:MM or HH:MM with optional :SS and
// fraction, and returns what follows it (the zone, if any) trimmed.
func clock(s string) (h, mi, sec, ns int, rest, problem string) {
	const shape = "the time of day must be hours:minutes on a 24-hour clock, e.g. 22:00 or 06:00"
	i := 0
	num := func(min, max int) (int, bool) {
		j := i
		for j < len(s) && j-i < max && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-i < min {
			return 0, false
		}
		n, _ := strconv.Atoi(s[i:j])
		i = j
		return n, true
	}
	var ok bool
	if h, ok = num(1, 2); !ok || i >= len(s) || s[i] != ':' {
		return 0, 0, 0, 0, "", shape
	}
	i++
	if mi, ok = num(2, 2); !ok {
		return 0, 0, 0, 0, "", shape
	}
	if i < len(s) && s[i] == ':' {
		i++
		if sec, ok = num(2, 2); !ok {
			return 0, 0, 0, 0, "", "seconds must be two digits, e.g. 22:00:05"
		}
		if i < len(s) && s[i] == '.' {
			i++
			start := i
			f, ok := num(1, 9)
			if !ok {
				return 0, 0, 0, 0, "", "a fraction of a second must be 1 to 9 digits, e.g. 22:00:05.5"
			}
			for k := i - start; k < 9; k++ {
				f *= 10
			}
			ns = f
		}
	}
	if i < len(s) && s[i] >= '0' && s[i] <= '9' {
		return 0, 0, 0, 0, "", shape
	}
	switch {
	case h > 23:
		return 0, 0, 0, 0, "", fmt.Sprintf("there is no hour %d: hours go from 00 to 23", h)
	case mi > 59:
		return 0, 0, 0, 0, "", fmt.Sprintf("there is no minute %d: minutes go from 00 to 59", mi)
	case sec > 59:
		return 0, 0, 0, 0, "", fmt.Sprintf("there is no second %d: seconds go from 00 to 59", sec)
	}
	return h, mi, sec, ns, strings.TrimSpace(s[i:]), ""
}

// zone reads the zone after a time: UTC, GMT or Z, a numeric offset, or an
// IANA name. Abbreviations such as CET or EST are refused: many are ambiguous
// (IST is India, Israel or Ireland) and none says whether summer time applies.
func zone(s string) (*time.Location, string) {
	const forms = "use UTC, an offset such as +01:00 or -0500, or a zone name such as Europe/Berlin"
	switch strings.ToUpper(s) {
	case "Z", "UTC", "GMT":
		return time.UTC, ""
	case "AM", "PM", "A.M.", "P.M.":
		return nil, "use the 24-hour clock: 22:00 rather than 10:00 pm"
	}
	if strings.Contains(s, " ") {
		return nil, fmt.Sprintf("%s after the time of day is not one time zone; %s", show(s), forms)
	}
	if s[0] == '+' || s[0] == '-' {
		o := s[1:]
		if len(o) == 5 && o[2] == ':' {
			o = o[:2] + o[3:]
		}
		if len(o) != 4 || !digits(o) {
			return nil, fmt.Sprintf("%s is not an offset; write offsets with hours and minutes, e.g. +01:00, -05:00 or -0500", show(s))
		}
		hh, _ := strconv.Atoi(o[:2])
		mm, _ := strconv.Atoi(o[2:])
		if hh > 23 || mm > 59 {
			return nil, fmt.Sprintf("%s is not an offset: hours go up to 23 and minutes up to 59", show(s))
		}
		secs := (hh*60 + mm) * 60
		if s[0] == '-' {
			secs = -secs
		}
		return time.FixedZone("", secs), ""
	}
	if !strings.Contains(s, "/") || !zoneName(s) {
		return nil, fmt.Sprintf("%s is not a time zone this bot knows (abbreviations such as CET or EST are ambiguous); %s", show(s), forms)
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, fmt.Sprintf("there is no time zone %s (zone names are case-sensitive, e.g. Europe/Berlin or America/New_York)", show(s))
	}
	return loc, ""
}

// zoneName reports the characters of IANA names ("America/Argentina/Buenos_Aires",
// "Etc/GMT+5"), which also keeps "..", "Local" and absolute paths away from
// time.LoadLocation.
func zoneName(s string) bool {
	if s[0] == '/' || strings.Contains(s, "..") || strings.HasSuffix(s, "/") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isASCIILetter(c) && !(c >= '0' && c <= '9') && !strings.ContainsRune("/_+-", rune(c)) {
			return false
		}
	}
	return true
}

// wallTime is time.Date with the daylight-saving rule ParseWhen documents: a
// skipped wall time moves forward by the gap, a repeated one is the earlier
// instant. It compares the zone's offsets a day before and a day after, which
// covers every real zone: none changes its offset twice within two days.
func wallTime(y int, mo time.Month, d, h, mi, sec, ns int, loc *time.Location) time.Time {
	w := time.Date(y, mo, d, h, mi, sec, 0, time.UTC).Unix() // the wall clock read as if it were UTC
	offsetAt := func(unix int64) int64 {
		_, off := time.Unix(unix, 0).In(loc).Zone()
		return int64(off)
	}
	before, after := offsetAt(w-86400), offsetAt(w+86400)
	var best int64
	found := false
	for _, off := range [...]int64{before, after} {
		// An instant is a reading of the wall time if the zone's offset then is the one assumed.
		if u := w - off; offsetAt(u) == off && (!found || u < best) {
			best, found = u, true
		}
	}
	if !found {
		if before == after {
			return time.Date(y, mo, d, h, mi, sec, ns, loc) // more than one change within two days
		}
		// Skipped: read with the offset from before the change, the time lands
		// after it, as far past the change as the wall time was.
		best = w - before
	}
	return time.Unix(best, int64(ns)).In(loc)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
