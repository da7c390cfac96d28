package graphtest

import (
	"slices"
	"testing"
)

func groupID(t *testing.T, s *Server, name string) string {
	t.Helper()
	gs := s.FindGroups(name)
	if len(gs) != 1 {
		t.Fatalf("FindGroups(%q) = %d groups", name, len(gs))
	}
	return gs[0].ID
}

func TestTransitiveMembers(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	test := groupID(t, s, GroupTest)

	// Cast: users only, deduplicated (lester is reachable twice).
	m := c.mustGet("/v1.0/groups/" + test + "/transitiveMembers/microsoft.graph.user?$select=id,userPrincipalName")
	upns := field(values(t, m), "userPrincipalName")
	if !slices.Equal(sorted(upns), TestGroupMemberUPNs()) {
		t.Fatalf("users = %v\nwant    %v", sorted(upns), TestGroupMemberUPNs())
	}

	// Uncast: users, groups and the device, each typed, each once.
	m = c.mustGet("/v1.0/groups/" + test + "/transitiveMembers")
	byType := map[string][]string{}
	var ids []string
	for _, v := range values(t, m) {
		typ, _ := v["@odata.type"].(string)
		name, _ := v["displayName"].(string)
		byType[typ] = append(byType[typ], name)
		ids = append(ids, v["id"].(string))
	}
	if len(byType["#microsoft.graph.user"]) != len(TestGroupMemberUPNs()) {
		t.Errorf("users: %v", byType["#microsoft.graph.user"])
	}
	if got := sorted(byType["#microsoft.graph.group"]); !slices.Equal(got, []string{GroupTestDeep, GroupTestNested}) {
		t.Errorf("groups: %v", got)
	}
	if got := byType["#microsoft.graph.device"]; !slices.Equal(got, []string{DeviceTestKiosk}) {
		t.Errorf("devices: %v", got)
	}
	if len(slices.Compact(sorted(ids))) != len(ids) {
		t.Errorf("duplicate ids in %v", ids)
	}

	// Direct members of Test do not include nested users.
	m = c.mustGet("/v1.0/groups/" + test + "/members/microsoft.graph.user?$select=userPrincipalName")
	if got := sorted(field(values(t, m), "userPrincipalName")); slices.Contains(got, UPNNora) || !slices.Contains(got, UPNLester) {
		t.Errorf("direct members: %v", got)
	}

	if r := c.get("/v1.0/groups/00000000-0000-0000-0000-000000000000/transitiveMembers"); r.status != 404 {
		t.Errorf("unknown group: %d", r.status)
	}
}

func TestBigGroupPaging(t *testing.T) {
	s := startServer(t, Options{Users: 5, BigGroupSize: 250})
	c := newClient(t, s)
	next := "/v1.0/groups/" + groupID(t, s, GroupBig) + "/transitiveMembers/microsoft.graph.user?$top=100&$select=id"
	seen := map[string]bool{}
	pages := 0
	for next != "" {
		m := c.mustGet(next)
		pages++
		for _, id := range field(values(t, m), "id") {
			if seen[id] {
				t.Fatalf("id %s repeated", id)
			}
			seen[id] = true
		}
		next, _ = m["@odata.nextLink"].(string)
	}
	if pages != 3 || len(seen) != 250 {
		t.Fatalf("pages %d, members %d", pages, len(seen))
	}
	if u, ok := s.User("wave.user.00250@contoso.com"); !ok || u.DisplayName != "Wave User 00250" {
		t.Fatalf("wave user: %+v", u)
	}
}

func TestAmbiguousSales(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	m := c.mustGet("/v1.0/groups?$filter=" + q("displayName eq 'Sales'") + "&$select=id,displayName,description")
	vs := values(t, m)
	if len(vs) != 2 || vs[0]["id"] == vs[1]["id"] {
		t.Fatalf("Sales groups: %v", vs)
	}
	if got := sorted(field(vs, "description")); !slices.Equal(got, []string{"Sales Americas", "Sales EMEA"}) {
		t.Fatalf("descriptions %v", got)
	}
	if len(s.FindGroups("sales")) != 2 {
		t.Fatal("FindGroups should be case-insensitive and find both")
	}
	one := c.mustGet("/v1.0/groups/" + vs[0]["id"].(string))
	if one["displayName"] != "Sales" || one["securityEnabled"] != true {
		t.Fatalf("GET group: %v", one)
	}
}

func TestAddGroupHook(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	lester, _ := s.User(UPNLester)
	inner := s.AddGroup(Group{DisplayName: "Cycle B"})
	outer := s.AddGroup(Group{DisplayName: "Cycle A", MemberIDs: []string{lester.ID, inner.ID}})
	inner.MemberIDs = []string{outer.ID, lester.ID, "dangling-id"} // a cycle and a dangling reference
	s.AddGroup(inner)
	m := c.mustGet("/v1.0/groups/" + outer.ID + "/transitiveMembers")
	if n := len(values(t, m)); n != 2 { // lester + Cycle B
		t.Fatalf("members of cyclic group: %d (%v)", n, m)
	}
}
