package fakeslack

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// Modals: views.open exchanges the trigger_id of an interaction (once, within Slack's 3 seconds) for a modal
// shown to the person who clicked. When they submit it, Slack sends a view_submission interaction to the app;
// ViewSubmission and ViewClosed build those payloads for a test to deliver.

// View is a modal opened with views.open, as Slack keeps it.
type View struct {
	ID        string
	TriggerID string
	// Body is the view object as the app sent it: type, title, submit, close, blocks, private_metadata, callback_id…
	Body map[string]any
}

// Text returns the text of one of the view's plain_text objects: "title", "submit" or "close".
func (v View) Text(field string) string {
	o, _ := v.Body[field].(map[string]any)
	t, _ := o["text"].(string)
	return t
}

// PrivateMetadata is the view's private_metadata, which Slack hands back unchanged on submission.
func (v View) PrivateMetadata() string {
	m, _ := v.Body["private_metadata"].(string)
	return m
}

// input is one input block's element, as state.values reports it.
type input struct {
	blockID, actionID, elementType string
	maxLength                      int // 0: none
}

func (v View) inputs() []input {
	var out []input
	blocks, _ := v.Body["blocks"].([]any)
	for _, b := range blocks {
		bl, _ := b.(map[string]any)
		if bl["type"] != "input" {
			continue
		}
		el, _ := bl["element"].(map[string]any)
		in := input{}
		in.blockID, _ = bl["block_id"].(string)
		in.actionID, _ = el["action_id"].(string)
		in.elementType, _ = el["type"].(string)
		if n, ok := el["max_length"].(float64); ok {
			in.maxLength = int(n)
		}
		out = append(out, in)
	}
	return out
}

// Views returns every modal opened, oldest first.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, 0, len(s.views))
	for _, v := range s.views {
		out = append(out, *v)
	}
	return out
}

// ViewByTrigger returns the modal opened with trigger.
func (s *Server) ViewByTrigger(trigger string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.views {
		if v.TriggerID == trigger {
			return *v, true
		}
	}
	return View{}, false
}

// ExpireTriggers makes views.open answer expired_trigger_id while on is true, as Slack does when the app calls
// it more than 3 seconds after the interaction.
func (s *Server) ExpireTriggers(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired = on
}

// openView implements views.open. It takes JSON ({"trigger_id": …, "view": {…}}) or a form whose view is a
// JSON string, as Slack does.
func (s *Server) openView(w http.ResponseWriter, r *http.Request) {
	var req struct {
		TriggerID string          `json:"trigger_id"`
		View      json.RawMessage `json:"view"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			invalidArguments(w, "invalid JSON body: "+err.Error(), "")
			return
		}
	} else {
		req.TriggerID, req.View = r.FormValue("trigger_id"), json.RawMessage(r.FormValue("view"))
	}
	var view map[string]any
	if err := json.Unmarshal(req.View, &view); err != nil || view == nil {
		// A form's view is a JSON string; a JSON body may carry it as a string too.
		var str string
		if json.Unmarshal(req.View, &str) != nil || json.Unmarshal([]byte(str), &view) != nil || view == nil {
			invalidArguments(w, "view must be a JSON object", "/view")
			return
		}
	}
	if req.TriggerID == "" {
		invalidArguments(w, "missing required field: trigger_id", "/trigger_id")
		return
	}
	if msg, ptr := checkView(view); msg != "" {
		invalidArguments(w, msg, ptr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.expired:
		reply(w, map[string]any{"ok": false, "error": "expired_trigger_id"})
		return
	case s.triggers[req.TriggerID]:
		reply(w, map[string]any{"ok": false, "error": "exchanged_trigger_id"})
		return
	}
	s.triggers[req.TriggerID] = true
	s.seq++
	v := &View{ID: fmt.Sprintf("V%07d", s.seq), TriggerID: req.TriggerID, Body: view}
	s.views = append(s.views, v)
	reply(w, map[string]any{"ok": true, "view": s.viewJSON(v, map[string]any{})})
}

// invalidArguments answers as Slack does for a malformed view: invalid_arguments, with the reason and a JSON
// pointer to the field in response_metadata.
func invalidArguments(w http.ResponseWriter, msg, pointer string) {
	if pointer != "" {
		msg += " [json-pointer:" + pointer + "]"
	}
	reply(w, map[string]any{"ok": false, "error": "invalid_arguments",
		"response_metadata": map[string]any{"messages": []string{"[ERROR] " + msg}}})
}

// checkView applies the limits of a modal view that Slack enforces (characters, not bytes), returning the
// first violation and its JSON pointer.
func checkView(v map[string]any) (msg, pointer string) {
	if v["type"] != "modal" {
		return `must be "modal"`, "/view/type"
	}
	plainText := func(field string, limit int, required bool) (string, string) {
		o, ok := v[field].(map[string]any)
		if !ok {
			if required {
				return "missing required field: " + field, "/view/" + field
			}
			return "", ""
		}
		if o["type"] != "plain_text" {
			return `must be "plain_text"`, "/view/" + field + "/type"
		}
		t, _ := o["text"].(string)
		if n := utf8.RuneCountInString(t); n == 0 || n > limit {
			return fmt.Sprintf("must be between 1 and %d characters (has %d)", limit, n), "/view/" + field + "/text"
		}
		return "", ""
	}
	blocks, _ := v["blocks"].([]any)
	hasInput := false
	for _, b := range blocks {
		if bl, _ := b.(map[string]any); bl["type"] == "input" {
			hasInput = true
		}
	}
	for _, f := range []struct {
		name     string
		required bool
	}{{"title", true}, {"submit", hasInput}, {"close", false}} {
		if m, p := plainText(f.name, 24, f.required); m != "" {
			return m, p
		}
	}
	if len(blocks) > 100 {
		return "no more than 100 items allowed", "/view/blocks"
	}
	if m, _ := v["private_metadata"].(string); utf8.RuneCountInString(m) > 3000 {
		return "must be less than 3001 characters", "/view/private_metadata"
	}
	if c, _ := v["callback_id"].(string); utf8.RuneCountInString(c) > 255 {
		return "must be less than 256 characters", "/view/callback_id"
	}
	seen := map[string]bool{}
	for i, b := range blocks {
		bl, _ := b.(map[string]any)
		at := fmt.Sprintf("/view/blocks/%d", i)
		if id, _ := bl["block_id"].(string); id != "" {
			if seen[id] {
				return "duplicate block_id " + id, at + "/block_id"
			}
			seen[id] = true
		}
		if bl["type"] != "input" {
			continue
		}
		label, _ := bl["label"].(map[string]any)
		if t, _ := label["text"].(string); label["type"] != "plain_text" || t == "" || utf8.RuneCountInString(t) > 2000 {
			return "label must be plain_text of 1 to 2000 characters", at + "/label"
		}
		el, ok := bl["element"].(map[string]any)
		if !ok {
			return "missing required field: element", at + "/element"
		}
		if el["type"] == "plain_text_input" {
			if n, ok := el["max_length"].(float64); ok && (n < 1 || n > 3000) {
				return "max_length must be between 1 and 3000", at + "/element/max_length"
			}
		}
	}
	return "", ""
}

// viewJSON is a view as Slack shows it in answers and payloads: the app's view plus Slack's own fields.
func (s *Server) viewJSON(v *View, values map[string]any) map[string]any {
	out := maps.Clone(v.Body)
	for k, def := range map[string]any{"private_metadata": "", "callback_id": "", "external_id": "", "clear_on_close": false,
		"notify_on_close": false} {
		if _, ok := out[k]; !ok {
			out[k] = def
		}
	}
	out["id"], out["team_id"], out["app_id"], out["bot_id"], out["app_installed_team_id"] = v.ID, "T1", "A1", "B1", "T1"
	out["root_view_id"], out["previous_view_id"] = v.ID, nil
	out["hash"] = fmt.Sprintf("1700000000.%s", strings.ToLower(v.ID))
	out["state"] = map[string]any{"values": values}
	return out
}

// ViewSubmission builds the view_submission payload Slack sends when user submits the modal viewID, with
// values typed into its inputs (by action_id; inputs left out are empty, which Slack sends as null). It refuses
// what Slack's client would not let through: an unknown view or user, an action_id the view has no input for,
// and a value longer than the input's max_length.
func (s *Server) ViewSubmission(viewID, user string, values map[string]string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, u, err := s.viewAndUser(viewID, user)
	if err != nil {
		return nil, err
	}
	state := map[string]any{}
	used := map[string]bool{}
	for _, in := range v.inputs() {
		var value any // null: Slack's value of an empty input
		if typed, ok := values[in.actionID]; ok {
			if in.maxLength > 0 && utf8.RuneCountInString(typed) > in.maxLength {
				return nil, fmt.Errorf("value for %s has %d characters, more than max_length %d", in.actionID,
					utf8.RuneCountInString(typed), in.maxLength)
			}
			used[in.actionID] = true
			if typed != "" {
				value = typed
			}
		}
		if state[in.blockID] == nil {
			state[in.blockID] = map[string]any{}
		}
		state[in.blockID].(map[string]any)[in.actionID] = map[string]any{"type": in.elementType, "value": value}
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if !used[k] {
			return nil, fmt.Errorf("view %s has no input with action_id %q", viewID, k)
		}
	}
	s.seq++
	return map[string]any{
		"type":       "view_submission",
		"team":       map[string]any{"id": "T1", "domain": "contoso"},
		"user":       map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": "T1"},
		"api_app_id": "A1", "token": "legacy-verification-token",
		"trigger_id":    fmt.Sprintf("%d.1700000000.%x", s.seq, s.seq),
		"view":          s.viewJSON(v, state),
		"response_urls": []any{}, "is_enterprise_install": false, "enterprise": nil,
	}, nil
}

// ViewClosed builds the view_closed payload Slack sends when user dismisses the modal viewID (Back, or the
// ×). Slack sends it only for views opened with notify_on_close.
func (s *Server) ViewClosed(viewID, user string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, u, err := s.viewAndUser(viewID, user)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"type":       "view_closed",
		"team":       map[string]any{"id": "T1", "domain": "contoso"},
		"user":       map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": "T1"},
		"api_app_id": "A1", "token": "legacy-verification-token",
		"view": s.viewJSON(v, map[string]any{}), "is_cleared": false, "is_enterprise_install": false, "enterprise": nil,
	}, nil
}

// viewAndUser looks up a recorded view and a workspace member; s.mu is held.
func (s *Server) viewAndUser(viewID, user string) (*View, User, error) {
	u, ok := s.users[user]
	if !ok {
		return nil, User{}, fmt.Errorf("no user %s in the workspace", user)
	}
	for _, v := range s.views {
		if v.ID == viewID {
			return v, u, nil
		}
	}
	return nil, User{}, fmt.Errorf("no view %s was opened", viewID)
}
