package fakeslack

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// File is a file uploaded through Slack's external upload (files.getUploadURLExternal, a POST of the bytes to
// the upload URL, files.completeUploadExternal), as shared in a channel or thread.
type File struct {
	ID       string
	Name     string // filename given to files.getUploadURLExternal
	Title    string // from files.completeUploadExternal
	Channel  string
	ThreadTS string
	TS       string // the message that shares it
	Comment  string // initial_comment
	Content  []byte
}

// upload is a file between files.getUploadURLExternal and files.completeUploadExternal.
type upload struct {
	name     string
	length   int
	content  []byte
	uploaded bool
	done     bool
}

// fileStore is the uploads' state (guarded by Server.mu).
type fileStore struct {
	n       int
	pending map[string]*upload // by file id
	shared  []File
	failAt  string // "" or the step that answers an error (see FailUploads)
}

// Files lists the files shared so far, oldest first.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.files.shared)
	for i := range out {
		out[i].Content = slices.Clone(out[i].Content)
	}
	return out
}

// ThreadFiles lists the files shared in the thread under ts.
func (s *Server) ThreadFiles(channel, ts string) []File {
	var out []File
	for _, f := range s.Files() {
		if f.Channel == channel && f.ThreadTS == ts {
			out = append(out, f)
		}
	}
	return out
}

// FailUploads makes one step of every upload fail until called with "": "url" (files.getUploadURLExternal
// answers fatal_error), "upload" (the upload URL answers HTTP 500) or "complete"
// (files.completeUploadExternal answers fatal_error).
func (s *Server) FailUploads(step string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files.failAt = step
}

func (s *Server) failing(step string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files.failAt == step
}

// uploadURLPrefix is the path of the upload URLs, served by the fake itself (Slack's are on files.slack.com).
const uploadURLPrefix = "/upload/v1/"

// getUploadURL answers files.getUploadURLExternal (filename and length are required).
func (s *Server) getUploadURL(w http.ResponseWriter, r *http.Request) {
	name := r.FormValue("filename")
	length, err := strconv.Atoi(r.FormValue("length"))
	switch {
	case s.failing("url"):
		reply(w, map[string]any{"ok": false, "error": "fatal_error"})
		return
	case name == "" || err != nil || length <= 0:
		reply(w, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	s.mu.Lock()
	if s.files.pending == nil {
		s.files.pending = map[string]*upload{}
	}
	s.files.n++
	id := fmt.Sprintf("F%08d", s.files.n)
	s.files.pending[id] = &upload{name: name, length: length}
	s.mu.Unlock()
	reply(w, map[string]any{"ok": true, "upload_url": s.URL + uploadURLPrefix + id, "file_id": id})
}

// receiveUpload takes the bytes POSTed to an upload URL, as multipart/form-data (field "file") or as the raw
// body, and answers as Slack's upload endpoint does: 200 with "OK - <bytes>".
func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, uploadURLPrefix)
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if s.failing("upload") {
		http.Error(w, "upload failed", http.StatusInternalServerError)
		return
	}
	var body io.Reader = r.Body
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
		mr := multipart.NewReader(r.Body, params["boundary"])
		body = nil
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			if p.FormName() == "file" {
				body = p
				break
			}
		}
		if body == nil {
			http.Error(w, "no file part", http.StatusBadRequest)
			return
		}
	}
	content, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	u, ok := s.files.pending[id]
	accepted := ok && !u.done // a completed upload's URL takes nothing more
	if accepted {
		u.content, u.uploaded = content, true
	}
	s.mu.Unlock()
	if !accepted {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "OK - %d", len(content))
}

// completeUpload answers files.completeUploadExternal: it shares the uploaded files in channel_id (in the thread
// thread_ts), each as a message carrying initial_comment, as Slack shows a file share. Thread replies fail while
// FailThreadReplies is on, as chat.postMessage's do.
func (s *Server) completeUpload(w http.ResponseWriter, r *http.Request) {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(r.FormValue("files")), &files); err != nil || len(files) == 0 {
		reply(w, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	ch, thread := r.FormValue("channel_id"), r.FormValue("thread_ts")
	if s.failing("complete") {
		reply(w, map[string]any{"ok": false, "error": "fatal_error"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case thread != "" && s.threadLeft == 0:
		reply(w, map[string]any{"ok": false, "error": "fatal_error"})
		return
	case ch != "" && s.notIn[ch]:
		reply(w, map[string]any{"ok": false, "error": "not_in_channel"})
		return
	}
	for _, f := range files {
		if u, ok := s.files.pending[f.ID]; !ok || !u.uploaded || u.done {
			reply(w, map[string]any{"ok": false, "error": "file_not_found"})
			return
		}
	}
	if thread != "" && s.threadLeft > 0 {
		s.threadLeft--
	}
	var out []map[string]any
	for _, f := range files {
		u := s.files.pending[f.ID]
		u.done = true
		file := File{ID: f.ID, Name: u.name, Title: f.Title, Channel: ch, ThreadTS: thread, Comment: r.FormValue("initial_comment"),
			Content: u.content}
		if ch != "" {
			m := &Message{Channel: ch, TS: s.nextTS(), ThreadTS: thread, Text: file.Comment}
			s.messages = append(s.messages, m)
			file.TS = m.TS
		}
		s.files.shared = append(s.files.shared, file)
		out = append(out, map[string]any{"id": f.ID, "title": f.Title, "name": u.name, "size": len(u.content)})
	}
	reply(w, map[string]any{"ok": true, "files": out})
}
