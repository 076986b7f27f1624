package cst

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Pos is a place in a YAML file, 1-based.
type Pos struct{ Line, Col int }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// kind is what a YAML node holds once anchors, aliases and tags are resolved.
type kind int

const (
	kNull kind = iota
	kScalar
	kMap
	kSeq
)

// node is a resolved YAML node with the position of where it is written.
type node struct {
	kind  kind
	pos   Pos
	text  string // a scalar's text, as written ("0755", "yes", "2.0.0")
	typ   string // a scalar's YAML type: "string", "int", "float", "bool"
	keys  []entry
	items []*node
}

// entry is one key of a mapping.
type entry struct {
	name string
	pos  Pos
	val  *node
}

// describe names the node's kind for messages.
func (n *node) describe() string {
	switch n.kind {
	case kNull:
		return "null"
	case kMap:
		return "a mapping"
	case kSeq:
		return "a list"
	}
	if n.typ == "int" {
		return "an integer"
	}
	return "a " + n.typ
}

// maxNodes bounds alias expansion ("billion laughs").
const maxNodes = 200_000

// converter turns a goccy AST into nodes.
type converter struct {
	anchors map[string]*node
	count   int
}

// parseYAML parses one YAML document into a node tree. Errors carry the
// position as "line:col: message".
func parseYAML(data []byte) (n *node, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = nil, fmt.Errorf("1:1: the YAML parser failed: %v", p)
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			at := Pos{1, 1}
			if tk := ye.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line > 0 {
				at = Pos{tk.Position.Line, max(tk.Position.Column, 1)}
			}
			msg := ye.GetMessage()
			if strings.Contains(msg, "'\t'") {
				msg = strings.ReplaceAll(msg, "'\t'", `'\t'`) + "; indent with spaces, not tabs"
			}
			return nil, fmt.Errorf("%s: %s", at, msg)
		}
		return nil, fmt.Errorf("1:1: %v", err)
	}
	var body ast.Node
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, fmt.Errorf("%s: a second YAML document starts here; a test file holds one document", posOf(doc.Body))
		}
		body = doc.Body
	}
	if body == nil {
		return &node{kind: kNull, pos: Pos{1, 1}}, nil
	}
	c := &converter{anchors: map[string]*node{}}
	return c.convert(body)
}

// convert resolves n into a node.
func (c *converter) convert(n ast.Node) (*node, error) {
	c.count++
	if c.count > maxNodes {
		return nil, fmt.Errorf("%s: the document expands to more than %d nodes (aliases?)", posOf(n), maxNodes)
	}
	at := posOf(n)
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return &node{kind: kNull, pos: at}, nil
	case *ast.AnchorNode:
		out, err := c.convert(v.Value)
		if err != nil {
			return nil, err
		}
		if v.Name != nil && v.Name.GetToken() != nil {
			c.anchors[v.Name.GetToken().Value] = out
		}
		return out, nil
	case *ast.AliasNode:
		name := ""
		if v.Value != nil && v.Value.GetToken() != nil {
			name = v.Value.GetToken().Value
		}
		a, ok := c.anchors[name]
		if !ok {
			return nil, fmt.Errorf("%s: the alias *%s has no anchor &%s before it", at, name, name)
		}
		// Count the alias's nodes again, so repeated aliases stay bounded.
		c.count += size(a)
		if c.count > maxNodes {
			return nil, fmt.Errorf("%s: the document expands to more than %d nodes (aliases?)", at, maxNodes)
		}
		return a, nil
	case *ast.TagNode:
		out, err := c.convert(v.Value)
		if err != nil {
			return nil, err
		}
		if tk := v.GetToken(); tk != nil && out.kind == kScalar && (tk.Value == "!!str" || tk.Value == "!str") {
			out.typ = "string"
		}
		return out, nil
	case *ast.MappingKeyNode:
		return c.convert(v.Value)
	case *ast.StringNode:
		return &node{kind: kScalar, pos: at, text: v.Value, typ: "string"}, nil
	case *ast.LiteralNode:
		s := ""
		if v.Value != nil {
			s = v.Value.Value
		}
		return &node{kind: kScalar, pos: at, text: s, typ: "string"}, nil
	case *ast.IntegerNode:
		return &node{kind: kScalar, pos: at, text: tokenText(n), typ: "int"}, nil
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return &node{kind: kScalar, pos: at, text: tokenText(n), typ: "float"}, nil
	case *ast.BoolNode:
		return &node{kind: kScalar, pos: at, text: tokenText(n), typ: "bool"}, nil
	case *ast.SequenceNode:
		out := &node{kind: kSeq, pos: at}
		for _, x := range v.Values {
			item, err := c.convert(x)
			if err != nil {
				return nil, err
			}
			out.items = append(out.items, item)
		}
		return out, nil
	case *ast.MappingNode:
		return c.mapping(at, v.Values)
	case *ast.MappingValueNode:
		return c.mapping(at, []*ast.MappingValueNode{v})
	}
	return nil, fmt.Errorf("%s: unexpected YAML %s", at, n.Type())
}

// mapping converts a mapping's keys; merge keys ("<<: *base") add the keys
// the mapping does not set itself.
func (c *converter) mapping(at Pos, values []*ast.MappingValueNode) (*node, error) {
	out := &node{kind: kMap, pos: at}
	var merged []entry
	for _, mv := range values {
		if mv == nil {
			continue
		}
		val, err := c.convert(mv.Value)
		if err != nil {
			return nil, err
		}
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			switch val.kind {
			case kMap:
				merged = append(merged, val.keys...)
			case kSeq:
				for _, it := range val.items {
					if it.kind != kMap {
						return nil, fmt.Errorf("%s: a merge key (<<) takes a mapping or a list of mappings, got %s", it.pos, it.describe())
					}
					merged = append(merged, it.keys...)
				}
			default:
				return nil, fmt.Errorf("%s: a merge key (<<) takes a mapping or a list of mappings, got %s", val.pos, val.describe())
			}
			continue
		}
		key, err := c.convert(mv.Key)
		if err != nil {
			return nil, err
		}
		if key.kind != kScalar {
			return nil, fmt.Errorf("%s: a key must be a plain name, got %s", key.pos, key.describe())
		}
		out.keys = append(out.keys, entry{name: key.text, pos: key.pos, val: val})
	}
	for _, m := range merged {
		if out.get(m.name) == nil {
			out.keys = append(out.keys, m)
		}
	}
	return out, nil
}

// get returns the entry named name, or nil.
func (n *node) get(name string) *entry {
	for i := range n.keys {
		if n.keys[i].name == name {
			return &n.keys[i]
		}
	}
	return nil
}

func size(n *node) int {
	s := 1
	for _, k := range n.keys {
		s += size(k.val)
	}
	for _, it := range n.items {
		s += size(it)
	}
	return s
}

func tokenText(n ast.Node) string {
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

// posOf is where n starts: the first key of a block mapping, else n's token.
func posOf(n ast.Node) Pos {
	switch v := n.(type) {
	case nil:
		return Pos{1, 1}
	case *ast.MappingNode:
		if !v.IsFlowStyle && len(v.Values) > 0 && v.Values[0] != nil {
			return posOf(v.Values[0])
		}
	case *ast.MappingValueNode:
		if v.Key != nil {
			return posOf(v.Key)
		}
	case *ast.AnchorNode:
		if _, isMap := v.Value.(*ast.MappingNode); isMap {
			return posOf(v.Value)
		}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil || tk.Position.Line < 1 {
		return Pos{1, 1}
	}
	return Pos{tk.Position.Line, max(tk.Position.Column, 1)}
}
