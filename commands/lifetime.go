package commands

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// lifetimeRange ends every error about a lifetime that is out of range.
const lifetimeRange = "Entra allows access-token lifetimes from 10 minutes to 1 day (10m to 1d)"

// lifetimeUnits maps the unit words of a lifetime to their length. Seconds
// are missing on purpose: Entra's limits are whole minutes, and "90s" is far
// more likely a typo for 90m than a wish for a 90-second token.
var lifetimeUnits = map[string]time.Duration{
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
}

// parseLifetime reads an access-token lifetime: one or more parts, each a
// whole number followed by a unit (d, h or m, or the words day(s), hour(s),
// hr(s), min(s), minute(s)), case-insensitive, with or without spaces, each
// unit at most once: "10m", "90m", "1h30m", "1h 30m", "2 hours", "10 min",
// "1d", "24h". The result is between MinLifetime and MaxLifetime, or the
// problem is returned as a phrase for an error.
func parseLifetime(s string) (time.Duration, string) {
	const example = "e.g. 10m, 90m, 1h30m, 2h or 1d"
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, "it is empty; give a lifetime, " + example
	}
	if strings.Count(s, ":") > 0 {
		// Entra's own policy JSON writes "02:00:00"; say how to write that here.
		return 0, fmt.Sprintf("write the lifetime with units, %s (not as hours:minutes:seconds)", example)
	}
	var (
		total    time.Duration
		seen     = map[time.Duration]bool{}
		overflow bool
	)
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			return 0, fmt.Sprintf("%s is not a number of minutes, hours or days; %s", show(s[i:]), example)
		}
		number := s[i:j]
		if j < len(s) && (s[j] == '.' || s[j] == ',') {
			return 0, "use whole numbers, e.g. 1h30m rather than 1.5h"
		}
		for j < len(s) && s[j] == ' ' {
			j++
		}
		k := j
		for k < len(s) && s[k] >= 'a' && s[k] <= 'z' {
			k++
		}
		unitWord := s[j:k]
		if unitWord == "" {
			if k < len(s) {
				return 0, fmt.Sprintf("%s is not a unit; use m (minutes), h (hours) or d (a day), %s", show(s[k:k+1]), example)
			}
			return 0, fmt.Sprintf("%s has no unit; say which, e.g. %sm for minutes or %sh for hours", show(number), number, number)
		}
		unit, ok := lifetimeUnits[unitWord]
		if !ok {
			if unitWord == "s" || strings.HasPrefix(unitWord, "sec") {
				return 0, "give whole minutes, hours or a day; Entra's lifetimes are not set in seconds"
			}
			return 0, fmt.Sprintf("%s is not a unit; use m (minutes), h (hours) or d (a day), %s", show(unitWord), example)
		}
		if seen[unit] {
			return 0, fmt.Sprintf("%s is given twice; write each unit once, e.g. 1h30m", unitName(unit))
		}
		seen[unit] = true
		// More than 7 digits is out of range whatever the unit, and stops Atoi overflowing.
		if n, err := strconv.Atoi(number); err != nil || len(strings.TrimLeft(number, "0")) > 7 {
			overflow = true
		} else {
			total += time.Duration(n) * unit
		}
		i = k
	}
	if overflow || total < MinLifetime || total > MaxLifetime {
		return 0, fmt.Sprintf("%s is outside the range: %s", show(s), lifetimeRange)
	}
	return total, ""
}

func unitName(unit time.Duration) string {
	switch unit {
	case 24 * time.Hour:
		return "days"
	case time.Hour:
		return "hours"
	}
	return "minutes"
}

// formatLifetime writes a lifetime the way parseLifetime reads it back, in
// hours and minutes ("10m", "1h30m", "24h"), the units Entra's documentation
// uses.
func formatLifetime(d time.Duration) string {
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	var b strings.Builder
	if h > 0 {
		b.WriteString(strconv.Itoa(h) + "h")
	}
	if m > 0 || h == 0 {
		b.WriteString(strconv.Itoa(m) + "m")
	}
	return b.String()
}
