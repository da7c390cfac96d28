package graphtest

import (
	"strings"
	"time"
)

type valueKind int

const (
	kindNull valueKind = iota
	kindString
	kindBool
	kindStringList
	kindDateTime
	kindObjectList // a collection of complex values (targetResources): filtered through a lambda's members
)

func (k valueKind) String() string {
	switch k {
	case kindString:
		return "Edm.String"
	case kindBool:
		return "Edm.Boolean"
	case kindStringList:
		return "Collection(Edm.String)"
	case kindDateTime:
		return "Edm.DateTimeOffset"
	case kindObjectList:
		return "Collection(Edm.ComplexType)"
	}
	return "null"
}

// value is a property value as the filter evaluator sees it.
type value struct {
	kind valueKind
	str  string // for kindDateTime, the wire form, which sorts as the time does
	b    bool
	t    time.Time
	list []string
	objs []func(member string) value // kindObjectList: one getter per element
}

// timeValue is a DateTimeOffset; zero is null.
func timeValue(t time.Time) value {
	if t.IsZero() {
		return value{kind: kindNull}
	}
	return value{kind: kindDateTime, t: t, str: formatAuditTime(t)}
}

func strValue(s string) value {
	if s == "" {
		return value{kind: kindNull}
	}
	return value{kind: kindString, str: s}
}

// property describes one entity property: its wire name, type, whether Graph
// allows it in $filter, whether it is in the default property set, and how to
// read it.
type property struct {
	name       string // may be a path, "initiatedBy/app/appId", for a filter on a member of a complex value
	kind       valueKind
	filterable bool
	isDefault  bool
	elem       *entityType // kindObjectList: the element type whose members a lambda may filter on
	// get returns the filter value; json returns the wire value.
	get  func(o any, now readCtx) value
	json func(o any, now readCtx) any
}

// readCtx carries what a read needs to render replication-lagged values.
type readCtx struct {
	now   time.Time
	delay time.Duration
}

// entityType is a Graph entity's schema; property order is the wire order.
type entityType struct {
	name      string // "microsoft.graph.user"
	resource  string // "User", used in Graph's error messages
	props     []property
	byLowName map[string]int
}

func newEntityType(name, resource string, props []property) *entityType {
	t := &entityType{name: name, resource: resource, props: props, byLowName: map[string]int{}}
	for i, p := range props {
		t.byLowName[strings.ToLower(p.name)] = i
	}
	return t
}

// lookup resolves a property name case-insensitively, as Graph does.
func (t *entityType) lookup(name string) (property, bool) {
	i, ok := t.byLowName[strings.ToLower(name)]
	if !ok {
		return property{}, false
	}
	return t.props[i], true
}

func strProp(name string, filterable, isDefault bool, f func(o any) string) property {
	return property{name: name, kind: kindString, filterable: filterable, isDefault: isDefault,
		get:  func(o any, _ readCtx) value { return strValue(f(o)) },
		json: func(o any, _ readCtx) any { return nullable(f(o)) }}
}

func boolProp(name string, filterable, isDefault bool, f func(o any) bool) property {
	return property{name: name, kind: kindBool, filterable: filterable, isDefault: isDefault,
		get:  func(o any, _ readCtx) value { return value{kind: kindBool, b: f(o)} },
		json: func(o any, _ readCtx) any { return f(o) }}
}

func listProp(name string, filterable, isDefault bool, f func(o any) []string) property {
	return property{name: name, kind: kindStringList, filterable: filterable, isDefault: isDefault,
		get: func(o any, _ readCtx) value { return value{kind: kindStringList, list: f(o)} },
		json: func(o any, _ readCtx) any {
			l := f(o)
			if l == nil {
				l = []string{}
			}
			return l
		}}
}

func nullProp(name string, isDefault bool) property {
	return property{name: name, kind: kindString, filterable: true, isDefault: isDefault,
		get:  func(any, readCtx) value { return value{kind: kindNull} },
		json: func(any, readCtx) any { return nil }}
}

func asUser(o any) *userRecord { return o.(*userRecord) }
func asGroup(o any) *Group     { return o.(*Group) }
func asDevice(o any) *device   { return o.(*device) }

// userType lists user properties in the order Graph emits its default set.
var userType = newEntityType("microsoft.graph.user", "User", []property{
	listProp("businessPhones", false, true, func(any) []string { return nil }),
	strProp("displayName", true, true, func(o any) string { return asUser(o).DisplayName }),
	strProp("givenName", true, true, func(o any) string { return asUser(o).GivenName }),
	strProp("jobTitle", true, true, func(o any) string { return asUser(o).JobTitle }),
	strProp("mail", true, true, func(o any) string { return asUser(o).Mail }),
	nullProp("mobilePhone", true),
	nullProp("officeLocation", true),
	nullProp("preferredLanguage", true),
	strProp("surname", true, true, func(o any) string { return asUser(o).Surname }),
	strProp("userPrincipalName", true, true, func(o any) string { return asUser(o).UserPrincipalName }),
	strProp("id", true, true, func(o any) string { return asUser(o).ID }),
	boolProp("accountEnabled", true, false, func(o any) bool { return asUser(o).AccountEnabled }),
	strProp("userType", true, false, func(o any) string { return asUser(o).UserType }),
	strProp("externalUserState", true, false, func(o any) string { return asUser(o).ExternalUserState }),
	listProp("proxyAddresses", true, false, func(o any) []string { return asUser(o).ProxyAddresses }),
	{name: "signInSessionsValidFromDateTime", kind: kindString, filterable: false,
		get: func(o any, rc readCtx) value {
			return strValue(formatGraphTime(asUser(o).visibleValidFrom(rc.now, rc.delay)))
		},
		json: func(o any, rc readCtx) any {
			return nullable(formatGraphTime(asUser(o).visibleValidFrom(rc.now, rc.delay)))
		}},
})

var groupType = newEntityType("microsoft.graph.group", "Group", []property{
	strProp("id", true, true, func(o any) string { return asGroup(o).ID }),
	nullProp("deletedDateTime", true),
	nullProp("classification", true),
	strProp("description", true, true, func(o any) string { return asGroup(o).Description }),
	strProp("displayName", true, true, func(o any) string { return asGroup(o).DisplayName }),
	listProp("groupTypes", true, true, func(any) []string { return nil }),
	nullProp("mail", true),
	boolProp("mailEnabled", true, true, func(any) bool { return false }),
	strProp("mailNickname", true, true, func(o any) string { return mailNickname(asGroup(o).DisplayName) }),
	boolProp("securityEnabled", true, true, func(any) bool { return true }),
	nullProp("visibility", true),
})

var deviceType = newEntityType("microsoft.graph.device", "Device", []property{
	strProp("id", true, true, func(o any) string { return asDevice(o).ID }),
	boolProp("accountEnabled", true, true, func(o any) bool { return asDevice(o).AccountEnabled }),
	strProp("deviceId", true, true, func(o any) string { return asDevice(o).DeviceID }),
	strProp("displayName", true, true, func(o any) string { return asDevice(o).DisplayName }),
	strProp("operatingSystem", true, true, func(o any) string { return asDevice(o).OperatingSystem }),
})

// directoryObjectType is the schema of an uncast directoryObject collection
// (transitiveMembers without /microsoft.graph.user): only properties every
// member type has may be filtered on. Values come from the concrete type.
var directoryObjectType = newEntityType("microsoft.graph.directoryObject", "DirectoryObject", []property{
	{name: "id", kind: kindString, filterable: true, isDefault: true},
	{name: "displayName", kind: kindString, filterable: true, isDefault: true},
})

func mailNickname(displayName string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\'' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, displayName)
}

// formatGraphTime renders Graph's DateTimeOffset form: UTC, whole seconds.
func formatGraphTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}
