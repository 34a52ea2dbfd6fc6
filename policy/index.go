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
}

// finish computes below for every node; call once after the last insert.
func (n *node) finish() Verb {
	v := n.verbs
	for _, c := range n.lit {
		v |= c.finish()
	}
	if n.star != nil {
		v |= n.star.finish()
	}
	if n.dstar != nil {
		v |= n.dstar.finish()
	}
	n.below = v
	return v
}

func (ix *grantIndex) insert(segs []string, g *Grant) {
	n := &ix.root
	for _, s := range segs {
		n = child(&n.lit, &n.star, &n.dstar, s)
	}
	n.grants = append(n.grants, g)
	n.verbs |= g.verbs
}

// match walks every trie path that matches segs and reports the first deny
// grant naming verb, or failing that the first allow grant naming it. It
// stops at the first deny, since a deny beats any allow.
func (n *node) match(segs []string, verb Verb, allow **Grant) (deny *Grant) {
	if n.below&verb == 0 {
		return nil // no grant for this verb anywhere below: skip the subtree
	}
	if len(segs) == 0 {
		if n.verbs&verb != 0 {
			for _, g := range n.grants {
				if g.verbs&verb == 0 {
					continue
				}
				if g.deny {
					return g
				}
				if *allow == nil || g.order < (*allow).order {
					*allow = g
				}
			}
		}
	} else {
		if c := n.lit[segs[0]]; c != nil {
			if d := c.match(segs[1:], verb, allow); d != nil {
				return d
			}
		}
		if n.star != nil {
			if d := n.star.match(segs[1:], verb, allow); d != nil {
				return d
			}
		}
	}
	if n.dstar != nil {
		for k := 0; k <= len(segs); k++ {
			if d := n.dstar.match(segs[k:], verb, allow); d != nil {
				return d
			}
		}
	}
	return nil
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
