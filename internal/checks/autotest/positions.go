package autotest

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// positions finds where keys of a compose file are, for messages. The
// compose library loads the file; this only points at lines.
type positions struct {
	root ast.Node // nil when the file does not parse
}

func newPositions(content []byte) *positions {
	f, err := parser.ParseBytes(content, 0)
	if err != nil || len(f.Docs) == 0 {
		return &positions{}
	}
	return &positions{root: f.Docs[0].Body}
}

// at returns "file:line:col" of the deepest key along path that the file
// has, or "file" when it has none.
func (p *positions) at(file string, path ...string) string {
	line, col := 0, 0
	node := p.root
	for _, key := range path {
		kv := lookupKey(node, key)
		if kv == nil {
			break
		}
		tok := kv.Key.GetToken()
		if tok == nil {
			break
		}
		line, col = tok.Position.Line, tok.Position.Column
		node = kv.Value
	}
	if line == 0 {
		return file
	}
	return fmt.Sprintf("%s:%d:%d", file, line, col)
}

// lookupKey returns the entry of the mapping node with key, or nil.
func lookupKey(node ast.Node, key string) *ast.MappingValueNode {
	for {
		switch n := node.(type) {
		case *ast.AnchorNode:
			node = n.Value
			continue
		case *ast.TagNode:
			node = n.Value
			continue
		case *ast.MappingValueNode:
			if keyString(n.Key) == key {
				return n
			}
			return nil
		case *ast.MappingNode:
			for _, v := range n.Values {
				if keyString(v.Key) == key {
					return v
				}
			}
		}
		return nil
	}
}

// keyString is a mapping key's text.
func keyString(k ast.MapKeyNode) string {
	if s, ok := k.(ast.ScalarNode); ok {
		return fmt.Sprint(s.GetValue())
	}
	return k.String()
}
