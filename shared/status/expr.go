package status

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// expr builds one update: SET/ADD-style clauses, REMOVE, a condition, and the placeholders they
// use. Every attribute name goes through a placeholder, so reserved words never matter, and only
// placeholders that are used are declared (DynamoDB rejects unused ones).
type expr struct {
	clauses map[string]string // attribute → "#a = …" (a later set replaces an earlier one)
	order   []string
	removed []string
	cond    string
	seq     int
	names   map[string]string
	values  map[string]types.AttributeValue
}

func newExpr() *expr {
	return &expr{clauses: map[string]string{}, names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// n returns the placeholder of an attribute name.
func (e *expr) n(attr string) string {
	k := "#" + attr
	e.names[k] = attr
	return k
}

// v returns a new placeholder for a value. Values are plain Go scalars, so marshalling cannot fail.
func (e *expr) v(val any) string {
	e.seq++
	k := fmt.Sprintf(":v%d", e.seq)
	av, err := attributevalue.Marshal(val)
	if err != nil {
		av = &types.AttributeValueMemberNULL{Value: true}
	}
	e.values[k] = av
	return k
}

func (e *expr) clause(attr, c string) *expr {
	old, ok := e.clauses[attr]
	if !ok {
		e.order = append(e.order, attr)
	}
	for _, tok := range strings.Fields(old) { // drop the replaced clause's values
		delete(e.values, strings.Trim(tok, "(),"))
	}
	e.clauses[attr] = c
	return e
}

// set: attr = val.
func (e *expr) set(attr string, val any) *expr {
	return e.clause(attr, e.n(attr)+" = "+e.v(val))
}

// setIfNotExists: attr = if_not_exists(attr, val).
func (e *expr) setIfNotExists(attr string, val any) *expr {
	return e.clause(attr, e.n(attr)+" = if_not_exists("+e.n(attr)+", "+e.v(val)+")")
}

// add: attr = if_not_exists(attr, 0) + 1.
func (e *expr) add(attr string) *expr {
	return e.clause(attr, e.n(attr)+" = if_not_exists("+e.n(attr)+", "+e.v(0)+") + "+e.v(1))
}

func (e *expr) remove(attrs ...string) *expr {
	e.removed = append(e.removed, attrs...)
	return e
}

func (e *expr) update() string {
	var b strings.Builder
	sets := make([]string, 0, len(e.order))
	for _, a := range e.order {
		sets = append(sets, e.clauses[a])
	}
	if len(sets) > 0 {
		b.WriteString("SET " + strings.Join(sets, ", "))
	}
	var rm []string
	for _, a := range e.removed {
		if _, alsoSet := e.clauses[a]; !alsoSet {
			rm = append(rm, e.n(a))
		}
	}
	if len(rm) > 0 {
		b.WriteString(" REMOVE " + strings.Join(rm, ", "))
	}
	return b.String()
}
