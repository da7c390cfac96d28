package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Entra ID's limits for a policy's AccessTokenLifetime: it refuses anything outside them.
const (
	MinAccessTokenLifetime = 10 * time.Minute
	MaxAccessTokenLifetime = 24 * time.Hour
)

// ErrLifetimeOutOfRange is wrapped by SetOrganizationDefaultLifetime's error for a lifetime outside
// MinAccessTokenLifetime .. MaxAccessTokenLifetime.
var ErrLifetimeOutOfRange = errors.New("graph: access token lifetime out of range")

// DefaultCutoverPolicyName is the display name of an organization-default policy SetOrganizationDefaultLifetime
// creates when it is given none.
const DefaultCutoverPolicyName = "signoutbot cutover: short access tokens"

// PolicySnapshot is a token lifetime policy as it was before the bot changed it: exactly what
// RestoreOrganizationDefault needs to put it back.
type PolicySnapshot struct {
	ID          string
	DisplayName string
	// Definition is the policy's definition strings byte for byte, so a restore writes back what the admin
	// wrote, other settings (MaxInactiveTime, ...) and formatting included.
	Definition            []string
	IsOrganizationDefault bool
	// Lifetime is the AccessTokenLifetime the policy sets; zero when it sets none.
	Lifetime time.Duration
}

// OrganizationDefaultPolicy reads the tenant's organization-default token lifetime policy; found is false
// when there is none. It needs Policy.Read.All (a 403 comes back wrapping *APIError).
func (c *Client) OrganizationDefaultPolicy(ctx context.Context) (PolicySnapshot, bool, error) {
	policies, err := c.tokenLifetimePolicies(ctx)
	if err != nil {
		return PolicySnapshot{}, false, fmt.Errorf("graph: read token lifetime policies: %w", err)
	}
	for _, p := range policies {
		if !deref(p.GetIsOrganizationDefault()) {
			continue
		}
		snap := PolicySnapshot{ID: deref(p.GetId()), DisplayName: deref(p.GetDisplayName()),
			Definition: slices.Clone(p.GetDefinition()), IsOrganizationDefault: true}
		d, _, err := policyLifetime(p)
		if err != nil {
			return PolicySnapshot{}, false, fmt.Errorf("graph: organization-default token lifetime policy %s (%q): %w", snap.ID, snap.DisplayName, err)
		}
		snap.Lifetime = d
		return snap, true, nil
	}
	return PolicySnapshot{}, false, nil
}

// SetOrganizationDefaultLifetime makes d the access-token lifetime of every app without a policy of its own,
// for a cutover window that RestoreOrganizationDefault ends. When the tenant has an organization-default
// policy it PATCHes that policy's AccessTokenLifetime to d, leaving the rest of its definition as it was, and
// renames it to displayName unless that is empty; prev is the policy as it was and hadPrev is true. Otherwise
// it creates an organization-default policy named displayName (DefaultCutoverPolicyName when empty) and
// returns its id in createdID.
//
// A lifetime outside 10 minutes .. 1 day, which Entra ID would refuse, is refused before any call with an
// error wrapping ErrLifetimeOutOfRange. Without Policy.ReadWrite.ApplicationConfiguration the error wraps an
// *APIError with Status 403. On any error after the policy was read, prev, hadPrev and createdID still say
// what may have changed (a write can take effect though its answer is lost), so the caller can hand them to
// RestoreOrganizationDefault to be sure.
func (c *Client) SetOrganizationDefaultLifetime(ctx context.Context, d time.Duration, displayName string) (prev PolicySnapshot, hadPrev bool, createdID string, err error) {
	if d < MinAccessTokenLifetime || d > MaxAccessTokenLifetime {
		return PolicySnapshot{}, false, "", fmt.Errorf("%w: %s is outside what Entra ID allows, 10 minutes to 1 day", ErrLifetimeOutOfRange, d)
	}
	span := FormatTimeSpan(d)
	prev, hadPrev, err = c.OrganizationDefaultPolicy(ctx)
	if err != nil {
		return PolicySnapshot{}, false, "", err
	}
	if hadPrev {
		def, err := withAccessTokenLifetime(prev.Definition, span)
		if err != nil {
			// Nothing was written: the caller has nothing to restore.
			return PolicySnapshot{}, false, "", fmt.Errorf("graph: organization-default token lifetime policy %s (%q): %w", prev.ID, prev.DisplayName, err)
		}
		body := models.NewTokenLifetimePolicy()
		body.SetDefinition(def)
		if displayName != "" && displayName != prev.DisplayName {
			body.SetDisplayName(&displayName)
		}
		if err := c.patchPolicy(ctx, prev.ID, body); err != nil {
			return prev, true, "", fmt.Errorf("graph: set access token lifetime %s on organization-default policy %s (%q): %w", span, prev.ID, prev.DisplayName, err)
		}
		return prev, true, "", nil
	}
	if displayName == "" {
		displayName = DefaultCutoverPolicyName
	}
	def := fmt.Sprintf(`{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"%s"}}`, span)
	id, err := c.createOrganizationDefault(ctx, displayName, def)
	if err != nil {
		return PolicySnapshot{}, false, id, fmt.Errorf("graph: create organization-default token lifetime policy %q: %w", displayName, err)
	}
	return PolicySnapshot{}, false, id, nil
}

// RestoreOrganizationDefault undoes SetOrganizationDefaultLifetime: with hadPrev it PATCHes the policy back to
// exactly prev's definition and display name; with createdID it deletes the policy it created. It is
// idempotent: restoring twice writes the same thing twice, and a created policy already deleted is fine.
// A 403 comes back wrapping *APIError as for the set.
func (c *Client) RestoreOrganizationDefault(ctx context.Context, prev PolicySnapshot, hadPrev bool, createdID string) error {
	var errs []error
	if hadPrev {
		body := models.NewTokenLifetimePolicy()
		if len(prev.Definition) > 0 { // Graph refuses an empty definition; a policy never has one
			body.SetDefinition(slices.Clone(prev.Definition))
		}
		name := prev.DisplayName
		body.SetDisplayName(&name)
		if err := c.patchPolicy(ctx, prev.ID, body); err != nil {
			errs = append(errs, fmt.Errorf("graph: restore organization-default token lifetime policy %s (%q): %w", prev.ID, prev.DisplayName, err))
		}
	}
	if createdID != "" {
		builder := c.sdk.Policies().TokenLifetimePolicies().ByTokenLifetimePolicyId(createdID)
		err := c.do(ctx, "delete token lifetime policy", func(ctx context.Context) error {
			return builder.Delete(ctx, nil)
		})
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			err = nil // deleted already, by an earlier restore or by an admin: the cutover policy is gone either way
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("graph: delete token lifetime policy %s: %w", createdID, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Client) patchPolicy(ctx context.Context, id string, body models.TokenLifetimePolicyable) error {
	builder := c.sdk.Policies().TokenLifetimePolicies().ByTokenLifetimePolicyId(id)
	return c.do(ctx, "update token lifetime policy", func(ctx context.Context) error {
		_, err := builder.Patch(ctx, body, nil)
		return err
	})
}

// createOrganizationDefault POSTs an organization-default policy. A POST is not idempotent: when an attempt
// fails in a way that does not prove Graph refused it (a 5xx, a lost answer), the policy may exist already,
// and a second POST would leave two organization defaults. So every retry first looks for one, adopting it
// when it is the policy this call was creating and stopping when it is someone else's.
func (c *Client) createOrganizationDefault(ctx context.Context, displayName, definition string) (string, error) {
	builder := c.sdk.Policies().TokenLifetimePolicies()
	isDefault := true
	body := models.NewTokenLifetimePolicy()
	body.SetDisplayName(&displayName)
	body.SetDefinition([]string{definition})
	body.SetIsOrganizationDefault(&isDefault)
	var id string
	tries := 0
	err := c.do(ctx, "create token lifetime policy", func(ctx context.Context) error {
		tries++
		if tries > 1 {
			snap, found, err := c.OrganizationDefaultPolicy(ctx)
			switch {
			case err != nil:
				return err
			case found && snap.DisplayName == displayName && slices.Equal(snap.Definition, []string{definition}):
				id = snap.ID
				return nil
			case found:
				return &permanentError{fmt.Errorf("an organization-default policy %s (%q) appeared meanwhile; not creating a second", snap.ID, snap.DisplayName)}
			}
		}
		created, err := builder.Post(ctx, body, nil)
		if err != nil {
			return err
		}
		if id = deref(created.GetId()); id == "" {
			return &permanentError{errors.New("graph answered without the new policy's id")}
		}
		return nil
	})
	return id, err
}

// withAccessTokenLifetime sets AccessTokenLifetime to span in the first TokenLifetimePolicy document of a
// definition. Every other key keeps its place and its value byte for byte; the other strings are untouched.
func withAccessTokenLifetime(definition []string, span string) ([]string, error) {
	out := slices.Clone(definition)
	for i, doc := range definition {
		edited, ok, err := setDocumentLifetime(doc, span)
		if err != nil {
			return nil, fmt.Errorf("definition %d is not a JSON object: %w", i, err)
		}
		if ok {
			out[i] = edited
			return out, nil
		}
	}
	return nil, errors.New("its definition has no TokenLifetimePolicy document to set AccessTokenLifetime in")
}

// setDocumentLifetime edits one definition document; ok is false when it holds no TokenLifetimePolicy.
// Keys match case-insensitively, as policyAccessTokenLifetime reads them, so an "accessTokenLifetime" an
// admin wrote is replaced rather than left beside a second key.
func setDocumentLifetime(doc, span string) (string, bool, error) {
	outer, err := decodeObject([]byte(doc))
	if err != nil {
		return "", false, err
	}
	i := slices.IndexFunc(outer, func(m member) bool { return strings.EqualFold(m.key, "TokenLifetimePolicy") })
	if i < 0 {
		return "", false, nil
	}
	inner, err := decodeObject(outer[i].raw)
	if err != nil {
		return "", false, fmt.Errorf("TokenLifetimePolicy: %w", err)
	}
	value, err := json.Marshal(span)
	if err != nil {
		return "", false, fmt.Errorf("encode %q: %w", span, err)
	}
	set := false
	inner = slices.DeleteFunc(inner, func(m member) bool {
		if !strings.EqualFold(m.key, "AccessTokenLifetime") {
			return false
		}
		if set {
			return true // a duplicate: Graph would read one of them, and not necessarily ours
		}
		set = true
		return false
	})
	if j := slices.IndexFunc(inner, func(m member) bool { return strings.EqualFold(m.key, "AccessTokenLifetime") }); j >= 0 {
		inner[j] = member{key: "AccessTokenLifetime", raw: value}
	} else {
		inner = append(inner, member{key: "AccessTokenLifetime", raw: value})
	}
	outer[i].raw = encodeObject(inner)
	return string(encodeObject(outer)), true, nil
}

// member is one key of a JSON object with its value as written.
type member struct {
	key string
	raw json.RawMessage
}

// decodeObject splits a JSON object into its members in order, keeping each value's bytes.
func decodeObject(b []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("read start of object: %w", err)
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("want a JSON object: %q", b)
	}
	var ms []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read key: %w", err)
		}
		key, _ := tok.(string) // inside an object the decoder yields only string keys here
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("read value of %q: %w", key, err)
		}
		ms = append(ms, member{key: key, raw: raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("read end of object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the object: %q", b)
	}
	return ms, nil
}

// encodeObject joins members back into a compact JSON object.
func encodeObject(ms []member) []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(m.key) // a Go string always marshals
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(m.raw)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}
