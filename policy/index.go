package policy

// grantIndex is a segment trie over the path globs of one role's grants for
// one upstream. Lookup cost depends on the depth of the path and the number of
// wildcard branches, not on the number of grants.
type grantIndex struct {
	root node
}

type node struct {
	lit    map[string]*node
	star   *node // "*"
	dstar  *node // "**"
	grants []*Grant
	verbs  Verb // union of the verbs of grants, to skip nodes quickly
	below  Verb // union of verbs of this node's and all descendants' grants
	// belowAllow is below for allow grants only: a near-miss walk, which
	// looks for allow grants, skips subtrees of deny grants by it.
	belowAllow Verb
}

// finish computes below and belowAllow for every node; call once after
// the last insert.
func (n *node) finish() (below, belowAllow Verb) {
	below = n.verbs
	for _, g := range n.grants {
		if !g.deny {
			belowAllow |= g.verbs
		}
	}
	add := func(c *node) {
		b, a := c.finish()
		below, belowAllow = below|b, belowAllow|a
	}
	for _, c := range n.lit {
		add(c)
	}
	if n.star != nil {
		add(n.star)
	}
	if n.dstar != nil {
		add(n.dstar)
	}
	n.below, n.belowAllow = below, belowAllow
	return below, belowAllow
}

func (ix *grantIndex) insert(segs []string, g *Grant) {
	n := &ix.root
	for _, s := range segs {
		n = child(&n.lit, &n.star, &n.dstar, s)
	}
	n.grants = append(n.grants, g)
	n.verbs |= g.verbs
}

// walk is the state of one walk of a grant index (node.match).
type walk struct {
	verb   Verb   // the request's verb
	mask   Verb   // prune subtrees without a grant naming one of these verbs
	allows bool   // prune subtrees without an allow grant naming one of mask
	full   bool   // keep going after a deny; note near misses
	allow  *Grant // the first-declared allow grant naming verb
	deny   *Grant // the first deny grant naming verb, in walk order
	near   *Grant // full: the first-declared allow grant the path matched without verb
	trace  *trace // full: records every grant the path matched, or nil
}

// match walks every trie path that matches segs and notes in w the first
// deny grant naming w.verb and the first-declared allow grant naming it.
// It skips subtrees without a grant (with w.allows, an allow grant) naming
// a verb of w.mask. Unless w.full, it stops at the first deny, since a deny
// beats any allow, and reports that it stopped.
func (n *node) match(segs []string, w *walk) (stop bool) {
	below := n.below
	if w.allows {
		below = n.belowAllow
	}
	if below&w.mask == 0 {
		return false // no grant for the verb anywhere below: skip the subtree
	}
	if len(segs) == 0 {
		if n.verbs&w.mask != 0 {
			for _, g := range n.grants {
				if w.trace != nil {
					w.trace.saw(g)
				}
				if g.verbs&w.verb == 0 {
					if w.full && !g.deny && (w.near == nil || g.order < w.near.order) {
						w.near = g
					}
					continue
				}
				if g.deny {
					if w.deny == nil {
						w.deny = g
					}
					if !w.full {
						return true
					}
					continue
				}
				if w.allow == nil || g.order < w.allow.order {
					w.allow = g
				}
			}
		}
	} else {
		if c := n.lit[segs[0]]; c != nil && c.match(segs[1:], w) {
			return true
		}
		if n.star != nil && n.star.match(segs[1:], w) {
			return true
		}
	}
	if n.dstar != nil {
		for k := 0; k <= len(segs); k++ {
			if n.dstar.match(segs[k:], w) {
				return true
			}
		}
	}
	return false
}

// child returns the child of a glob trie node (its literal map and "*" and
// "**" links) for one glob segment, creating it. The grant index and the
// CORS index share it.
func child[N any](lit *map[string]*N, star, dstar **N, seg string) *N {
	var next **N
	switch seg {
	case "*":
		next = star
	case "**":
		next = dstar
	default:
		if *lit == nil {
			*lit = make(map[string]*N)
		}
		c := (*lit)[seg]
		if c == nil {
			c = new(N)
			(*lit)[seg] = c
		}
		return c
	}
	if *next == nil {
		*next = new(N)
	}
	return *next
}
