package graphtest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// User is a directory user as the test hooks see it. SignInSessionsValidFrom
// is the authoritative (already replicated) value; HTTP reads may lag behind
// it by Options.ReplicationDelay.
type User struct {
	ID                string
	UserPrincipalName string
	DisplayName       string
	Mail              string
	UserType          string // "Member" | "Guest"
	// ExternalUserState is set for B2B users ("PendingAcceptance" or "Accepted"), whatever their UserType:
	// an external member has UserType "Member", an #EXT# UPN and this set.
	ExternalUserState       string
	AccountEnabled          bool
	ProxyAddresses          []string
	SignInSessionsValidFrom time.Time

	// Additive to the brief: Graph's default property set includes these.
	GivenName string
	Surname   string
	JobTitle  string
}

func (u User) clone() User {
	u.ProxyAddresses = slices.Clone(u.ProxyAddresses)
	return u
}

// Group is a directory group. MemberIDs may name users, groups or devices;
// IDs that resolve to nothing are ignored on read (like dangling references).
type Group struct {
	ID          string
	DisplayName string
	Description string
	MemberIDs   []string
}

func (g Group) clone() Group {
	g.MemberIDs = slices.Clone(g.MemberIDs)
	return g
}

// device exists so group membership can include non-user objects, which the
// bot must skip.
type device struct {
	ID              string
	DisplayName     string
	DeviceID        string
	OperatingSystem string
	AccountEnabled  bool
}

// Revocation records one accepted revokeSignInSessions call.
type Revocation struct {
	UserID string
	At     time.Time // on the simulated Graph's clock (see SetClockOffset), not truncated
	AppID  string
}

// userRecord carries the replication state next to the user.
type userRecord struct {
	User
	prevValidFrom time.Time // what readers see until changedAt+ReplicationDelay
	changedAt     time.Time
}

// visibleValidFrom models eventual consistency: a reader hitting a replica
// that has not caught up yet still sees the previous value.
func (r *userRecord) visibleValidFrom(now time.Time, delay time.Duration) time.Time {
	if delay > 0 && !r.changedAt.IsZero() && now.Before(r.changedAt.Add(delay)) {
		return r.prevValidFrom
	}
	return r.SignInSessionsValidFrom
}

// directory is the tenant's object store. One RWMutex guards everything:
// the data set is small and this keeps snapshots consistent.
type directory struct {
	mu          sync.RWMutex
	users       map[string]*userRecord // by lower-case id
	upnIndex    map[string]string      // lower-case UPN -> id
	groups      map[string]*Group      // by lower-case id
	devices     map[string]*device     // by lower-case id
	policies    map[string]*tokenLifetimePolicy
	apps        map[string]*application // by lower-case object id
	revocations []Revocation
	audit       auditLog
	idRand      *rand.Rand // seeded, so generated IDs repeat between runs
}

func newDirectory(seed int64) *directory {
	return &directory{
		users:    map[string]*userRecord{},
		upnIndex: map[string]string{},
		groups:   map[string]*Group{},
		devices:  map[string]*device{},
		policies: map[string]*tokenLifetimePolicy{},
		apps:     map[string]*application{},
		audit:    auditLog{dropped: map[string]bool{}},
		idRand:   rand.New(rand.NewPCG(uint64(seed), 0x5167_6e6f_7574)),
	}
}

// newIDLocked returns a random-looking but seed-determined version-4 UUID.
// Caller holds d.mu for writing.
func (d *directory) newIDLocked() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := d.idRand.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// lookupUserLocked resolves an id or (case-insensitive) UPN.
func (d *directory) lookupUserLocked(idOrUPN string) *userRecord {
	key := strings.ToLower(idOrUPN)
	if r, ok := d.users[key]; ok {
		return r
	}
	if id, ok := d.upnIndex[key]; ok {
		return d.users[id]
	}
	return nil
}

func (d *directory) putUserLocked(u User) User {
	if u.ID == "" {
		if existing := d.lookupUserLocked(u.UserPrincipalName); existing != nil && u.UserPrincipalName != "" {
			u.ID = existing.ID
		} else {
			u.ID = d.newIDLocked()
		}
	}
	if u.UserType == "" {
		u.UserType = "Member"
	}
	if len(u.ProxyAddresses) == 0 && u.Mail != "" {
		u.ProxyAddresses = []string{"SMTP:" + u.Mail}
	}
	key := strings.ToLower(u.ID)
	if old, ok := d.users[key]; ok {
		delete(d.upnIndex, strings.ToLower(old.UserPrincipalName))
	}
	// A different user holding the same UPN is replaced: UPNs are unique in Entra.
	if otherID, ok := d.upnIndex[strings.ToLower(u.UserPrincipalName)]; ok && otherID != key {
		delete(d.users, otherID)
	}
	u = u.clone()
	d.users[key] = &userRecord{User: u}
	if u.UserPrincipalName != "" {
		d.upnIndex[strings.ToLower(u.UserPrincipalName)] = key
	}
	return u.clone()
}

func (d *directory) putGroupLocked(g Group) Group {
	if g.ID == "" {
		g.ID = d.newIDLocked()
	}
	g = g.clone()
	d.groups[strings.ToLower(g.ID)] = &g
	return g.clone()
}

// dirObject is one member returned by transitiveMembers: exactly one field set.
type dirObject struct {
	user   *userRecord
	group  *Group
	device *device
}

// transitiveMembersLocked walks nested groups breadth-first. Every object is
// returned once even when reachable along several paths, and cycles terminate.
func (d *directory) transitiveMembersLocked(root *Group) []dirObject {
	seen := map[string]bool{strings.ToLower(root.ID): true}
	queue := []*Group{root}
	var out []dirObject
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		for _, mid := range g.MemberIDs {
			key := strings.ToLower(mid)
			if seen[key] {
				continue
			}
			seen[key] = true
			switch {
			case d.users[key] != nil:
				out = append(out, dirObject{user: d.users[key]})
			case d.groups[key] != nil:
				out = append(out, dirObject{group: d.groups[key]})
				queue = append(queue, d.groups[key])
			case d.devices[key] != nil:
				out = append(out, dirObject{device: d.devices[key]})
			}
		}
	}
	return out
}

// directMembersLocked returns the group's own (non-transitive) members.
func (d *directory) directMembersLocked(g *Group) []dirObject {
	seen := map[string]bool{}
	var out []dirObject
	for _, mid := range g.MemberIDs {
		key := strings.ToLower(mid)
		if seen[key] {
			continue
		}
		seen[key] = true
		switch {
		case d.users[key] != nil:
			out = append(out, dirObject{user: d.users[key]})
		case d.groups[key] != nil:
			out = append(out, dirObject{group: d.groups[key]})
		case d.devices[key] != nil:
			out = append(out, dirObject{device: d.devices[key]})
		}
	}
	return out
}
