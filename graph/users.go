package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// userSelect is every property the bot reads; Graph returns only what is selected.
// externalUserState is there to recognise B2B users whose userType is Member.
var userSelect = []string{"id", "userPrincipalName", "displayName", "mail", "userType", "accountEnabled", "externalUserState"}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsObjectID reports whether ref is shaped like an Entra object id.
func IsObjectID(ref string) bool { return guidRE.MatchString(ref) }

const pageSize = int32(999) // Graph's maximum for users and transitiveMembers

func toUser(u models.Userable) User {
	out := User{
		ID:          deref(u.GetId()),
		UPN:         deref(u.GetUserPrincipalName()),
		DisplayName: deref(u.GetDisplayName()),
		Mail:        deref(u.GetMail()),
		Guest:       strings.EqualFold(deref(u.GetUserType()), "Guest"),
		Enabled:     u.GetAccountEnabled() == nil || *u.GetAccountEnabled(),
	}
	// A B2B user can be a Member by userType (invited as one, or converted) and still belong to another
	// tenant: only that tenant can sign them out, exactly as for a guest. Graph marks them by the #EXT# in
	// their UPN and by externalUserState (PendingAcceptance / Accepted), which is null for local users.
	if !out.Guest && (strings.Contains(strings.ToUpper(out.UPN), "#EXT#") || deref(u.GetExternalUserState()) != "") {
		out.Guest, out.External = true, true
	}
	if t := u.GetSignInSessionsValidFromDateTime(); t != nil {
		out.SessionsValidFrom = t.UTC()
	}
	return out
}

func toUsers(list []models.Userable) []User {
	out := make([]User, 0, len(list))
	for _, u := range list {
		out = append(out, toUser(u))
	}
	return out
}

// ResolveUser finds one user by UPN, object id, mail, or proxy address. "smtp:" names a proxy address only;
// anything else is tried as an id or UPN first, then as a mail or proxy address.
func (c *Client) ResolveUser(ctx context.Context, ref string) (User, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return User{}, errors.New("graph: empty user reference")
	}
	if addr, ok := cutPrefixFold(ref, "smtp:"); ok {
		return c.findOneUser(ctx, ref, "proxyAddresses/any(p:p eq "+Quote("smtp:"+addr)+")")
	}
	var got models.Userable
	err := c.do(ctx, "get user", func(ctx context.Context) error {
		var err error
		got, err = c.sdk.Users().ByUserId(ref).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: append(userSelect, "signInSessionsValidFromDateTime")},
		})
		return err
	})
	if err == nil {
		return toUser(got), nil
	}
	if !isStatus(err, http.StatusNotFound) && !isStatus(err, http.StatusBadRequest) {
		return User{}, fmt.Errorf("graph: look up user %q: %w", ref, err)
	}
	if !strings.Contains(ref, "@") {
		return User{}, &NotFoundError{Kind: "user", Ref: ref}
	}
	return c.findOneUser(ctx, ref, "mail eq "+Quote(ref)+" or proxyAddresses/any(p:p eq "+Quote("smtp:"+ref)+")")
}

func (c *Client) findOneUser(ctx context.Context, ref, filter string) (User, error) {
	var found []User
	err := c.listUsers(ctx, &users.UsersRequestBuilderGetQueryParameters{
		Filter: &filter, Select: append(userSelect, "signInSessionsValidFromDateTime"), Top: ptr(int32(2)), Count: ptr(true),
	}, func(page []User) error {
		found = append(found, page...)
		if len(found) > 1 {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return User{}, fmt.Errorf("graph: look up user %q: %w", ref, err)
	}
	switch len(found) {
	case 0:
		return User{}, &NotFoundError{Kind: "user", Ref: ref}
	case 1:
		return found[0], nil
	default:
		return User{}, fmt.Errorf("graph: %q matches several users (%s, %s); name one by its user principal name", ref, found[0].UPN, found[1].UPN)
	}
}

var errStop = errors.New("stop paging")

// MatchUsers finds users whose display name contains text. Graph has no "contains" for displayName; its
// $search matches words that start with the text, so the result is narrowed to real substring matches here.
// A name where the text sits inside a word ("Contester") is therefore not found; the help text says so.
func (c *Client) MatchUsers(ctx context.Context, text string, fn func([]User) error) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return errors.New("graph: empty match text")
	}
	if strings.ContainsAny(text, `"\`) {
		// $search values are double-quoted; rather than trust an escaping rule Graph barely documents,
		// refuse the characters that could end the phrase.
		return fmt.Errorf("graph: match text %q: double quotes and backslashes are not allowed", text)
	}
	search := searchPhrase("displayName", text)
	needle := strings.ToLower(text)
	return c.listUsers(ctx, &users.UsersRequestBuilderGetQueryParameters{
		Search: &search, Select: userSelect, Top: ptr(pageSize), Count: ptr(true),
	}, func(page []User) error {
		kept := page[:0]
		for _, u := range page {
			if strings.Contains(strings.ToLower(u.DisplayName), needle) {
				kept = append(kept, u)
			}
		}
		if len(kept) == 0 {
			return nil
		}
		return fn(kept)
	})
}

// listUsers pages through GET /users; every request carries ConsistencyLevel: eventual because $search,
// $count and some filters need it and it costs nothing on the others.
func (c *Client) listUsers(ctx context.Context, q *users.UsersRequestBuilderGetQueryParameters, fn func([]User) error) error {
	cfg := &users.UsersRequestBuilderGetRequestConfiguration{Headers: consistencyEventual(), QueryParameters: q}
	var resp models.UserCollectionResponseable
	err := c.do(ctx, "list users", func(ctx context.Context) error {
		var err error
		resp, err = c.sdk.Users().Get(ctx, cfg)
		return err
	})
	for {
		if err != nil {
			return fmt.Errorf("graph: list users: %w", err)
		}
		if err := fn(toUsers(resp.GetValue())); err != nil {
			return err
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return nil
		}
		err = c.do(ctx, "list users (next page)", func(ctx context.Context) error {
			var err error
			resp, err = c.sdk.Users().WithUrl(next).Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{Headers: consistencyEventual()})
			return err
		})
	}
}

// ResolveGroup finds a group by object id or exact display name; several groups with the name is an
// *AmbiguousError listing them.
func (c *Client) ResolveGroup(ctx context.Context, ref string) (Group, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return Group{}, errors.New("graph: empty group reference")
	}
	sel := []string{"id", "displayName", "description"}
	if IsObjectID(ref) {
		var g models.Groupable
		err := c.do(ctx, "get group", func(ctx context.Context) error {
			var err error
			g, err = c.sdk.Groups().ByGroupId(ref).Get(ctx, &groups.GroupItemRequestBuilderGetRequestConfiguration{
				QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: sel},
			})
			return err
		})
		if err == nil {
			return toGroup(g), nil
		}
		if !isStatus(err, http.StatusNotFound) {
			return Group{}, fmt.Errorf("graph: look up group %q: %w", ref, err)
		}
		return Group{}, &NotFoundError{Kind: "group", Ref: ref}
	}
	found, err := c.findGroups(ctx, "find group", "displayName eq "+Quote(ref))
	if err != nil {
		return Group{}, fmt.Errorf("graph: find group %q: %w", ref, err)
	}
	switch len(found) {
	case 0:
		return Group{}, &NotFoundError{Kind: "group", Ref: ref}
	case 1:
		return found[0], nil
	default:
		return Group{}, &AmbiguousError{Ref: ref, Candidates: found}
	}
}

// GroupsByDescription finds groups whose description equals text. Only the request path uses it, after a
// display name matched nothing; settings (protected groups, the admin group) are resolved by name or id only.
func (c *Client) GroupsByDescription(ctx context.Context, text string) ([]Group, error) {
	found, err := c.findGroups(ctx, "find group by description", "description eq "+Quote(strings.TrimSpace(text)))
	if err != nil {
		return nil, fmt.Errorf("graph: find group by description %q: %w", text, err)
	}
	return found, nil
}

// findGroups lists the groups a filter selects (at most 25: enough to show an ambiguity, never a whole tenant).
func (c *Client) findGroups(ctx context.Context, op, filter string) ([]Group, error) {
	var resp models.GroupCollectionResponseable
	err := c.do(ctx, op, func(ctx context.Context) error {
		var err error
		resp, err = c.sdk.Groups().Get(ctx, &groups.GroupsRequestBuilderGetRequestConfiguration{
			Headers: consistencyEventual(),
			QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Filter: &filter, Select: []string{"id", "displayName", "description"},
				Top: ptr(int32(25)), Count: ptr(true)},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var found []Group
	for _, g := range resp.GetValue() {
		found = append(found, toGroup(g))
	}
	return found, nil
}

func toGroup(g models.Groupable) Group {
	return Group{ID: deref(g.GetId()), DisplayName: deref(g.GetDisplayName()), Description: deref(g.GetDescription())}
}

// GroupMembers pages through the users among a group's transitive members (nested groups expanded by Graph;
// devices, contacts and the nested groups themselves left out by the microsoft.graph.user cast).
func (c *Client) GroupMembers(ctx context.Context, groupID string, fn func([]User) error) error {
	cfg := &groups.ItemTransitiveMembersGraphUserRequestBuilderGetRequestConfiguration{
		Headers: consistencyEventual(),
		QueryParameters: &groups.ItemTransitiveMembersGraphUserRequestBuilderGetQueryParameters{
			Select: userSelect, Top: ptr(pageSize), Count: ptr(true),
		},
	}
	builder := c.sdk.Groups().ByGroupId(groupID).TransitiveMembers().GraphUser()
	seen := make(map[string]struct{})
	var resp models.UserCollectionResponseable
	err := c.do(ctx, "group members", func(ctx context.Context) error {
		var err error
		resp, err = builder.Get(ctx, cfg)
		return err
	})
	for {
		if err != nil {
			if isStatus(err, http.StatusNotFound) {
				return &NotFoundError{Kind: "group", Ref: groupID}
			}
			return fmt.Errorf("graph: members of group %s: %w", groupID, err)
		}
		page := make([]User, 0, len(resp.GetValue()))
		for _, u := range toUsers(resp.GetValue()) {
			if _, dup := seen[u.ID]; !dup {
				seen[u.ID] = struct{}{}
				page = append(page, u)
			}
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return nil
		}
		err = c.do(ctx, "group members (next page)", func(ctx context.Context) error {
			var err error
			resp, err = builder.WithUrl(next).Get(ctx, &groups.ItemTransitiveMembersGraphUserRequestBuilderGetRequestConfiguration{Headers: consistencyEventual()})
			return err
		})
	}
}

func isStatus(err error, status int) bool {
	ae, _ := apiError(err)
	return ae != nil && ae.Status == status
}

func ptr[T any](v T) *T { return &v }

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
