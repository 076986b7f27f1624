package index

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
)

// maxDepth bounds alias chains and merge keys, so that an alias to the
// mapping that contains it cannot loop forever.
const maxDepth = 16

// maxMerged bounds the work of merge keys over a whole file (each merge
// followed, each key it brings in), so that merges of merges
// ("<<: [*a, *a, *a]" nested) cannot expand exponentially.
const maxMerged = 20_000

// tree resolves the anchors and aliases of one YAML document.
type tree struct {
	anchors map[string][]*ast.AnchorNode // in document order
	merged  int                          // keys brought in by merge keys so far
	over    ast.Node                     // the merge that went over maxMerged
}

// overMerged reports a file whose merge keys brought in more than
// maxMerged keys, at the merge that went over.
func (t *tree) overMerged(r *reporter) {
	if t.over != nil {
		r.errorf(posOf(t.over), "merge keys (<<) expand to more than %d mappings and keys in all, over the limit; merge fewer or smaller mappings", maxMerged)
	}
}

func newTree(body ast.Node) *tree {
	t := &tree{anchors: map[string][]*ast.AnchorNode{}}
	t.collect(body, 0)
	return t
}

// collect records every anchor under n.
func (t *tree) collect(n ast.Node, depth int) {
	if depth > 10000 {
		return
	}
	switch v := n.(type) {
	case *ast.AnchorNode:
		if v.Name != nil {
			name := v.Name.GetToken()
			if name != nil {
				t.anchors[name.Value] = append(t.anchors[name.Value], v)
			}
		}
		t.collect(v.Value, depth+1)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			t.collect(mv, depth+1)
		}
	case *ast.MappingValueNode:
		t.collect(v.Key, depth+1)
		t.collect(v.Value, depth+1)
	case *ast.MappingKeyNode:
		t.collect(v.Value, depth+1)
	case *ast.SequenceNode:
		for _, x := range v.Values {
			t.collect(x, depth+1)
		}
	case *ast.TagNode:
		t.collect(v.Value, depth+1)
	}
}

// resolve follows anchors, tags and aliases down to the node they stand
// for. An alias with no anchor before it is returned as it is.
func (t *tree) resolve(n ast.Node) ast.Node {
	for range maxDepth {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.MappingKeyNode:
			n = v.Value
		case *ast.AliasNode:
			a := t.anchorFor(v)
			if a == nil {
				return n
			}
			n = a.Value
		default:
			return n
		}
	}
	return n
}

// anchorFor returns the last anchor of the alias's name defined before it.
func (t *tree) anchorFor(alias *ast.AliasNode) *ast.AnchorNode {
	if alias.Value == nil || alias.Value.GetToken() == nil || alias.GetToken() == nil {
		return nil
	}
	at := offset(alias)
	var found *ast.AnchorNode
	for _, a := range t.anchors[alias.Value.GetToken().Value] {
		if offset(a) < at {
			found = a
		}
	}
	return found
}

func offset(n ast.Node) int {
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Offset
	}
	return 0
}

// posOf is where n starts: the first key of a block mapping, else n's token.
func posOf(n ast.Node) pos {
	switch v := n.(type) {
	case nil:
		return pos{1, 1}
	case *ast.MappingNode:
		if !v.IsFlowStyle && len(v.Values) > 0 && v.Values[0] != nil {
			return posOf(v.Values[0])
		}
	case *ast.MappingValueNode:
		if v.Key != nil {
			return posOf(v.Key)
		}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil || tk.Position.Line < 1 {
		return pos{1, 1}
	}
	return pos{tk.Position.Line, max(tk.Position.Column, 1)}
}

// kindOf names the kind of a resolved node for messages: "a list", "null".
func kindOf(n ast.Node) string {
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode:
		return "an integer"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	case *ast.AliasNode:
		name := "?"
		if v.Value != nil && v.Value.GetToken() != nil {
			name = v.Value.GetToken().Value
		}
		return fmt.Sprintf("the alias *%s, which has no anchor &%s before it", name, name)
	}
	return "a " + n.Type().String()
}

// scalarText returns the text of a scalar the way a string field reads it:
// numbers keep the digits they were written with ("2.40", "7"). ok is false
// for null, booleans and collections.
func scalarText(n ast.Node) (s string, ok bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		if tk := n.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	return "", false
}

// pair is one key and value of a mapping.
type pair struct {
	key    string
	keyPos pos
	value  ast.Node // not resolved
	merged bool     // from a "<<" merge key
}

// pairs returns the keys and values of the mapping n (resolved), followed by
// those brought in by merge keys ("<<: *defaults"). ok is false when n is
// not a mapping.
func (t *tree) pairs(n ast.Node, depth int) (ps []pair, ok bool) {
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		values = v.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	default:
		return nil, false
	}
	var merged []pair
	for _, mv := range values {
		if mv == nil {
			continue
		}
		if _, isMerge := mv.Key.(*ast.MergeKeyNode); isMerge {
			merged = append(merged, t.mergePairs(mv.Value, depth)...)
			continue
		}
		ps = append(ps, pair{key: t.keyText(mv.Key), keyPos: posOf(mv.Key), value: mv.Value})
	}
	return append(ps, merged...), true
}

// mergePairs returns the pairs a merge key's value brings: a mapping or a
// list of mappings.
func (t *tree) mergePairs(n ast.Node, depth int) []pair {
	if depth >= maxDepth || t.over != nil {
		return nil
	}
	if t.merged++; t.merged > maxMerged {
		t.over = n
		return nil
	}
	n = t.resolve(n)
	var out []pair
	if seq, isSeq := n.(*ast.SequenceNode); isSeq {
		for _, x := range seq.Values {
			out = append(out, t.mergePairs(x, depth+1)...)
		}
		return out
	}
	ps, _ := t.pairs(n, depth+1)
	if t.merged += len(ps); t.merged > maxMerged {
		t.over = n
		return nil
	}
	for _, p := range ps {
		p.merged = true
		out = append(out, p)
	}
	return out
}

// keyText is a mapping key as text.
func (t *tree) keyText(k ast.Node) string {
	r := t.resolve(k)
	if s, ok := scalarText(r); ok {
		return s
	}
	if r == nil {
		return "null"
	}
	if tk := r.GetToken(); tk != nil {
		return tk.Value
	}
	return fmt.Sprint(r.Type())
}
