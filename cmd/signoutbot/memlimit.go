package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT is not set. The bot reads large scopes
// a page at a time, so what it holds stays small (a few tens of megabytes for a 100,000-user run); what it
// allocates and drops meanwhile (Graph's JSON, SQLite rows) is much more. Under this limit the collector returns
// that memory to the system sooner instead of letting the heap grow to twice what is live, so the process stays
// small for the whole run. It is soft: the bot never fails for lack of memory because of it, the collector only
// works harder (at most half the CPU) if more is ever live. GOMEMLIMIT (e.g. 512MiB, or "off") overrides it.
const defaultMemoryLimit = 48 << 20

func setMemoryLimit(log *slog.Logger) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
	log.Debug("Go memory limit", "bytes", defaultMemoryLimit)
}
