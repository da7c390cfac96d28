package graph

import "strings"

// Quote makes s an OData string literal. A single quote is escaped by doubling it, so user input can never
// close the literal and add clauses of its own to a $filter.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// searchPhrase builds $search="property:s". Callers refuse s with double quotes or backslashes first.
func searchPhrase(property, s string) string {
	return `"` + property + ":" + s + `"`
}
