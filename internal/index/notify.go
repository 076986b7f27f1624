package index

import "github.com/goccy/go-yaml/ast"

// notifySuccess reads notify-success, Hoist's own key: true also notifies
// the project's owners of every successful build. Missing or null is false.
func (ep *entryParser) notifySuccess() {
	f, present := ep.fields[keyNotifySuccess]
	if !present || isNull(f.node) {
		return
	}
	if b, ok := f.node.(*ast.BoolNode); ok {
		ep.e.p.NotifySuccess = b.Value
		return
	}
	got := kindOf(f.node)
	if text, ok := scalarText(f.node); ok {
		got += " " + quoteIfString(f.node, text)
	}
	ep.errorf(f.at, "notify-success must be true or false, got %s", got)
}

// quoteIfString quotes text when n is a string, so that "yes" reads as one.
func quoteIfString(n ast.Node, text string) string {
	if _, ok := n.(*ast.StringNode); ok {
		return `"` + text + `"`
	}
	return text
}
