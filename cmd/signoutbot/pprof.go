package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

// startProfiling serves Go's profiles (net/http/pprof: heap, goroutines, CPU) on SIGNOUTBOT_PPROF_LISTEN, a
// loopback address, until ctx ends: how a rehearsal finds what holds memory in a large run
// (go tool pprof http://127.0.0.1:6060/debug/pprof/heap). Unset, nothing is served; a non-loopback address is
// refused, as profiles show what the bot holds (user names, requests).
func startProfiling(ctx context.Context, log *slog.Logger) {
	addr := os.Getenv("SIGNOUTBOT_PPROF_LISTEN")
	if addr == "" {
		return
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || !isLoopback(host) {
		log.Error("SIGNOUTBOT_PPROF_LISTEN must be a loopback address; not serving profiles", "addr", addr)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		log.Info("serving profiles", "addr", "http://"+addr+"/debug/pprof/")
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Error("profiles", "err", err)
		}
	}()
}
