package graphtest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Well-known sample objects. The UPN constants assume the default domain
// (contoso.com); with Options.Domain set, the local parts stay the same.
const (
	GroupTest       = "Test"
	GroupTestNested = "Test Nested"
	GroupTestDeep   = "Test Deep"
	GroupBreakGlass = "Break Glass"
	GroupBig        = "Migration Wave 1"
	GroupSales      = "Sales" // TWO groups have this name (ambiguity)

	UPNLester     = "lester@contoso.com"         // "Lester Tester"
	UPNTesty      = "testy@contoso.com"          // "Testy McTestface"
	UPNTessa      = "tessa.test@contoso.com"     // "Tessa Test"
	UPNPriya      = "priya.testwood@contoso.com" // "Priya Testwood"
	UPNQuincy     = "quincy.obrien@contoso.com"  // "Quincy O'Brien", alias smtp:qob@contoso.com
	UPNAdele      = "adele@contoso.com"          // "Adele Vance"
	UPNAlex       = "alex@contoso.com"           // "Alex Wilber"
	UPNMegan      = "megan@contoso.com"          // "Megan Bowen"
	UPNDiego      = "diego@contoso.com"          // "Diego Siciliani"
	UPNCora       = "cora.contest@contoso.com"   // "Cora Contest" — "Contest" must NOT match a search for "Test"
	UPNBreakGlass = "breakglass@contoso.com"     // "Break Glass Admin"
	UPNJaneGuest  = "jane_fabrikam.com#EXT#@contoso.onmicrosoft.com"
	UPNDana       = "dana@contoso.com"        // "Dana Disabled Tester", accountEnabled=false
	UPNNora       = "nora.nested@contoso.com" // "Nora Nested", in "Test Nested"
	UPNDeepak     = "deepak.deep@contoso.com" // "Deepak Deep", in "Test Deep"

	DisplayNameJaneGuest = "Jane Guest (Fabrikam)"
	DeviceTestKiosk      = "TEST-KIOSK-01" // device object that is a member of group "Test"
)

// TestGroupMemberUPNs lists the users (transitively, users only, each once)
// in group "Test" of the default-domain sample tenant, sorted.
func TestGroupMemberUPNs() []string {
	upns := []string{UPNLester, UPNTesty, UPNBreakGlass, UPNJaneGuest, UPNDana, UPNTessa, UPNNora, UPNPriya, UPNDeepak}
	slices.Sort(upns)
	return upns
}

type sampleUser struct {
	local, given, surname, display, job string
	aliases                             []string // local parts of lower-case smtp: aliases
}

// namedUsers are the hand-written accounts tests refer to by name.
var namedUsers = []sampleUser{
	{local: "lester", given: "Lester", surname: "Tester", display: "Lester Tester", job: "QA Lead"},
	{local: "testy", given: "Testy", surname: "McTestface", display: "Testy McTestface", job: "Chaos Engineer"},
	{local: "tessa.test", given: "Tessa", surname: "Test", display: "Tessa Test", job: "Support Engineer"},
	{local: "priya.testwood", given: "Priya", surname: "Testwood", display: "Priya Testwood", job: "Developer"},
	{local: "quincy.obrien", given: "Quincy", surname: "O'Brien", display: "Quincy O'Brien", job: "Accountant", aliases: []string{"qob"}},
	{local: "adele", given: "Adele", surname: "Vance", display: "Adele Vance", job: "Retail Manager", aliases: []string{"adele.vance"}},
	{local: "alex", given: "Alex", surname: "Wilber", display: "Alex Wilber", job: "Marketing Assistant"},
	{local: "megan", given: "Megan", surname: "Bowen", display: "Megan Bowen", job: "Marketing Manager"},
	{local: "diego", given: "Diego", surname: "Siciliani", display: "Diego Siciliani", job: "HR Manager"},
	{local: "cora.contest", given: "Cora", surname: "Contest", display: "Cora Contest", job: "Event Planner"},
	{local: "breakglass", display: "Break Glass Admin", job: "Emergency Access"},
	{local: "dana", given: "Dana", surname: "Tester", display: "Dana Disabled Tester", job: "Former Tester"},
	{local: "nora.nested", given: "Nora", surname: "Nested", display: "Nora Nested", job: "Analyst"},
	{local: "deepak.deep", given: "Deepak", surname: "Deep", display: "Deepak Deep", job: "Data Scientist"},
}

// Name pools for filler users. None contains a token starting with "test",
// so searches for "Test" only ever find the sample accounts.
var (
	fillerFirst = []string{"Aaron", "Bianca", "Carlos", "Dmitri", "Elena", "Fatima", "Gareth", "Hana", "Ivan", "Julia",
		"Kenji", "Lucia", "Mateo", "Nadia", "Oscar", "Paula", "Rafael", "Sofia", "Tomas", "Ursula", "Victor", "Wendy",
		"Xavier", "Yara", "Zoltan", "Amara", "Bruno", "Chloe", "Dev", "Emil"}
	fillerLast = []string{"Anders", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
		"Kowalski", "Lopez", "Moreau", "Novak", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka", "Ueda",
		"Varga", "Weber", "Xu", "Yilmaz", "Zimmer", "Alvarez", "Brennan", "Castillo", "Duarte"}
	fillerJobs = []string{"Sales Representative", "Engineer", "Designer", "Accountant", "Consultant", "Recruiter", "Analyst"}
)

// buildSampleTenant fills d deterministically from opts.Seed. Called from New,
// before the server is shared, but it still takes the lock for uniformity.
func buildSampleTenant(d *directory, opts Options) {
	d.mu.Lock()
	defer d.mu.Unlock()

	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x7465_6e61_6e74))
	now := opts.Now().Add(opts.ClockOffset).UTC() // on the simulated Graph's clock, like every timestamp it hands out
	// Initial session-validity times lie 1-30 days in the past, whole seconds.
	pastTime := func() time.Time {
		back := time.Duration(1+rng.IntN(30))*24*time.Hour + time.Duration(rng.IntN(86400))*time.Second
		return now.Add(-back).Truncate(time.Second)
	}
	domain := opts.Domain
	mkUser := func(local, given, surname, display, job string, aliases []string) User {
		mail := local + "@" + domain
		proxies := []string{"SMTP:" + mail}
		for _, a := range aliases {
			proxies = append(proxies, "smtp:"+a+"@"+domain)
		}
		return User{
			UserPrincipalName: mail, DisplayName: display, Mail: mail, UserType: "Member",
			AccountEnabled: true, ProxyAddresses: proxies, SignInSessionsValidFrom: pastTime(),
			GivenName: given, Surname: surname, JobTitle: job,
		}
	}

	ids := map[string]string{} // local part -> id
	for _, su := range namedUsers {
		u := mkUser(su.local, su.given, su.surname, su.display, su.job, su.aliases)
		if su.local == "dana" {
			u.AccountEnabled = false
		}
		ids[su.local] = d.putUserLocked(u).ID
	}
	guest := User{
		UserPrincipalName: "jane_fabrikam.com#EXT#@" + onMicrosoftDomain(domain),
		DisplayName:       DisplayNameJaneGuest, Mail: "jane@fabrikam.com", UserType: "Guest",
		AccountEnabled: true, ProxyAddresses: []string{"SMTP:jane@fabrikam.com"},
		SignInSessionsValidFrom: pastTime(), GivenName: "Jane", Surname: "Guest",
	}
	ids["jane"] = d.putUserLocked(guest).ID

	kiosk := &device{ID: d.newIDLocked(), DisplayName: DeviceTestKiosk, DeviceID: d.newIDLocked(),
		OperatingSystem: "Windows", AccountEnabled: true}
	d.devices[strings.ToLower(kiosk.ID)] = kiosk

	deep := d.putGroupLocked(Group{DisplayName: GroupTestDeep, Description: "Nested two levels below Test",
		MemberIDs: []string{ids["priya.testwood"], ids["deepak.deep"], ids["lester"]}})
	nested := d.putGroupLocked(Group{DisplayName: GroupTestNested, Description: "Nested inside Test",
		MemberIDs: []string{ids["tessa.test"], ids["nora.nested"], deep.ID}})
	d.putGroupLocked(Group{DisplayName: GroupTest, Description: "signoutbot sample group with edge cases",
		MemberIDs: []string{ids["lester"], ids["testy"], ids["breakglass"], ids["jane"], ids["dana"], kiosk.ID, nested.ID}})
	d.putGroupLocked(Group{DisplayName: GroupBreakGlass, Description: "Emergency access accounts — never sign out",
		MemberIDs: []string{ids["breakglass"]}})
	d.putGroupLocked(Group{DisplayName: GroupSales, Description: "Sales EMEA",
		MemberIDs: []string{ids["adele"], ids["megan"]}})
	d.putGroupLocked(Group{DisplayName: GroupSales, Description: "Sales Americas",
		MemberIDs: []string{ids["alex"], ids["diego"]}})

	wave := make([]string, 0, opts.BigGroupSize)
	for i := 1; i <= opts.BigGroupSize; i++ {
		n := fmt.Sprintf("%05d", i)
		u := mkUser("wave.user."+n, "Wave", "User "+n, "Wave User "+n, "Migration Pilot", nil)
		wave = append(wave, d.putUserLocked(u).ID)
	}
	d.putGroupLocked(Group{DisplayName: GroupBig, Description: "Scale test: large group", MemberIDs: wave})

	for i := 1; i <= opts.Users; i++ {
		first := fillerFirst[rng.IntN(len(fillerFirst))]
		last := fillerLast[rng.IntN(len(fillerLast))]
		local := fmt.Sprintf("%s.%s.%04d", strings.ToLower(first), strings.ToLower(last), i)
		var aliases []string
		if i%7 == 0 { // some users carry a short alias, as real mailboxes do
			aliases = []string{fmt.Sprintf("%s%s%04d", strings.ToLower(first[:1]), strings.ToLower(last), i)}
		}
		d.putUserLocked(mkUser(local, first, last, first+" "+last, fillerJobs[rng.IntN(len(fillerJobs))], aliases))
	}
}

// onMicrosoftDomain derives the initial domain guests are homed in,
// e.g. contoso.com -> contoso.onmicrosoft.com.
func onMicrosoftDomain(domain string) string {
	label, _, _ := strings.Cut(domain, ".")
	return label + ".onmicrosoft.com"
}
