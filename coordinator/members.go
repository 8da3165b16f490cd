package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/rueidis"

	"github.com/shardcounter/shardcounter/resp"
)

// Which data directory each shard id stands for.
//
// A shard's data directory has an incarnation, a random id the shard writes
// when it creates the directory. A shard restarted under its id on an empty
// directory (a wiped disk, a new machine) answers with a new incarnation and
// without the partials it held: summed into reads, it would pass partial
// sums off as totals (invariant 4). So every shard keeps the incarnations
// of its peers as coordinators admitted them (SC.MEMBERS), and a coordinator
// admits a shard, closing its breaker, only when no peer has recorded
// another incarnation for it. Once admitted, commands name the shard as
// id@incarnation, and a shard whose directory is replaced under a running
// coordinator refuses them (REPLACED) before applying anything.
//
// A replaced shard stays down, with an error that says so: reads fail
// naming it, and writes go to the next shard. SHARDACCEPT id records the
// new incarnation on every shard once an operator accepts the loss.

// membership is one shard's answer to SC.MEMBERS.
type membership struct {
	sc    *shardConn
	own   string            // its incarnation
	peers map[string]string // id -> incarnation, as recorded there
}

// members asks sc for its incarnation and the peers it records, after
// recording peers with mode (resp.MembersAdd or MembersSet) when given. It
// names the shard by its bare id: the question is which directory answers.
func (sc *shardConn) members(ctx context.Context, mode string, peers []resp.Member) (membership, error) {
	tctx, cancel := context.WithTimeout(ctx, sc.timeout)
	defer cancel()
	cmd := resp.MembersCmd{Shard: sc.id, Mode: mode, Peers: peers}
	msg, err := sc.client.Do(tctx, sc.cmd(cmd.Args())).ToMessage()
	if err != nil {
		if _, reply := rueidis.IsRedisErr(err); !reply && ctx.Err() != nil {
			return membership{}, errGaveUp // the caller went away, not the shard
		}
		return membership{}, sc.classify(err)
	}
	reply, err := msg.ToArray()
	if err == nil && len(reply) != 2 {
		err = fmt.Errorf("%d elements, want 2", len(reply))
	}
	var pairs []string
	if err == nil {
		pairs, err = reply[1].AsStrSlice()
	}
	m := membership{sc: sc, peers: map[string]string{}}
	if err == nil {
		m.own, err = reply[0].ToString()
	}
	if err == nil && (!resp.ValidIncarnation(m.own) || len(pairs)%2 != 0) {
		err = fmt.Errorf("incarnation %q with %d peer fields", m.own, len(pairs))
	}
	if err != nil {
		return membership{}, sc.badReply(resp.CmdMembers, err)
	}
	for i := 0; i < len(pairs); i += 2 {
		m.peers[pairs[i]] = pairs[i+1]
	}
	return m, nil
}

// admit records that sc answers from the data directory the cluster knows.
func (sc *shardConn) admit(incarnation string) {
	name := resp.ShardName(sc.id, incarnation)
	sc.mu.Lock()
	sc.incarnation, sc.admitted, sc.refusal = incarnation, true, nil
	sc.mu.Unlock()
	sc.wireName.Store(&name)
}

// refuse keeps sc out: it answers from another data directory than the one
// recorded. Commands keep naming the old incarnation, so the shard refuses
// any that is sent before the breaker is seen open.
func (sc *shardConn) refuse(err error) {
	sc.mu.Lock()
	sc.admitted, sc.refusal = false, err
	sc.mu.Unlock()
	sc.markDown(err)
}

// admission is what checkMembers last decided for sc: the incarnation it
// admitted, whether sc is admitted now, and if it was refused, why.
func (sc *shardConn) admission() (incarnation string, admitted bool, refusal error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.incarnation, sc.admitted, sc.refusal
}

// errNotChecked keeps a shard down whose data directory checkMembers could
// not ask about.
var errNotChecked = errors.New("its data directory is not checked yet: SC.MEMBERS did not answer")

// probe pings sc and sets its breaker. The breaker closes only for a shard
// admitted by checkMembers, which runs when a shard that answers is not
// admitted yet and when one refuses the incarnation it was admitted with
// (replaced under this coordinator, or accepted through another one).
func (s *Server) probe(ctx context.Context, sc *shardConn) {
	err := sc.ping(ctx)
	inc, admitted, _ := sc.admission()
	if (err == nil && !admitted) || (errors.Is(err, resp.ErrShardReplaced) && inc != "") {
		waiting := sc // a check that admits it meanwhile is enough
		if err != nil {
			waiting = nil // it answered from another incarnation: check again
		}
		s.checkMembers(ctx, waiting)
		_, admitted, refusal := sc.admission()
		switch {
		case admitted:
			err = sc.ping(ctx)
		case refusal != nil:
			err = refusal
		case ctx.Err() != nil:
			err = errGaveUp
		default:
			err = errNotChecked
		}
	}
	switch {
	case errors.Is(err, errGaveUp):
	case err != nil:
		sc.markDown(err)
	default:
		if sc.markUp() {
			s.router.foldBack()
		}
	}
}

// checkMembers asks every shard for its incarnation and the peers it
// records, admits each one that no peer (nor this coordinator) knew with
// another incarnation, refuses the others, and records each admitted shard
// on the admitted peers that lack it. Shards that do not answer are left
// as they are. One check runs at a time. A check made for waiting, a
// shard not yet admitted, is skipped if the check before it admitted the
// shard: each check waits out the timeout of any shard that hangs.
func (s *Server) checkMembers(ctx context.Context, waiting *shardConn) {
	s.membersMu.Lock()
	defer s.membersMu.Unlock()
	if ctx.Err() != nil {
		return
	}
	if waiting != nil {
		if _, admitted, _ := waiting.admission(); admitted {
			return
		}
	}
	views := make([]*membership, len(s.shards))
	var wg sync.WaitGroup
	for i, sc := range s.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m, err := sc.members(ctx, "", nil); err == nil {
				views[i] = &m
			}
		}()
	}
	wg.Wait()
	var admitted []*membership
	for _, x := range views {
		if x == nil {
			continue
		}
		if err := replaced(x, views); err != nil {
			if _, was, _ := x.sc.admission(); was {
				s.log.Error("shard answers from a replaced data directory; reads fail until SHARDACCEPT", "shard", x.sc.id, "addr", x.sc.addr, "err", err)
			}
			x.sc.refuse(err)
			continue
		}
		x.sc.admit(x.own)
		admitted = append(admitted, x)
	}
	for _, y := range admitted {
		var missing []resp.Member
		for _, x := range admitted {
			if _, ok := y.peers[x.sc.id]; x != y && !ok {
				missing = append(missing, resp.Member{ID: x.sc.id, Incarnation: x.own})
			}
		}
		if len(missing) == 0 {
			continue
		}
		if _, err := y.sc.members(ctx, resp.MembersAdd, missing); err != nil {
			s.log.Warn("recording peers on a shard failed; the next check retries", "shard", y.sc.id, "err", err)
		}
	}
}

// replaced is why x must not be admitted, or nil: a peer recorded another
// incarnation for it; or, where no peer records it, this coordinator
// admitted another one.
func replaced(x *membership, views []*membership) error {
	recorded := false
	for _, y := range views {
		if y == nil || y == x {
			continue
		}
		rec, ok := y.peers[x.sc.id]
		if !ok {
			continue
		}
		if rec != x.own {
			return errReplaced(x, "shard "+y.sc.id+" recorded", rec)
		}
		recorded = true
	}
	if inc, _, _ := x.sc.admission(); !recorded && inc != "" && inc != x.own {
		return errReplaced(x, "it was", inc)
	}
	return nil
}

// errReplaced says that x answers from another data directory than old,
// which source (a peer's record, or this coordinator's admission) knew.
func errReplaced(x *membership, source, old string) error {
	return fmt.Errorf("%w: shard %s answers from data directory %s, but %s %s: the partials of %s are missing; SHARDACCEPT %s admits it as it is",
		resp.ErrShardReplaced, x.sc.id, x.own, source, old, old, x.sc.id)
}

// shardAccept: SHARDACCEPT id admits shard id with the data directory it
// answers from now, recording that incarnation on every other shard: the
// operator accepts that the partials of the one before are gone. Every
// shard must answer, or a later check would find the old record.
func (s *Server) shardAccept(_ *resp.Session, args [][]byte) resp.Reply {
	id := string(args[1])
	var x *shardConn
	for _, sc := range s.shards {
		if sc.id == id {
			x = sc
		}
	}
	if x == nil {
		return resp.ErrText(fmt.Sprintf("ERR no shard %q in this coordinator's --shards", id))
	}
	s.membersMu.Lock()
	m, err := x.members(s.ctx, "", nil)
	if err == nil {
		for _, sc := range s.shards {
			if sc == x {
				continue
			}
			if _, err = sc.members(s.ctx, resp.MembersSet, []resp.Member{{ID: id, Incarnation: m.own}}); err != nil {
				err = fmt.Errorf("shard %s: %v", sc.id, err)
				break
			}
		}
	}
	if err == nil {
		// This coordinator's own memory of the old directory goes too: in a
		// cluster where no peer records the shard, it alone refused it.
		x.admit(m.own)
	}
	s.membersMu.Unlock()
	if err != nil {
		return resp.ErrText(fmt.Sprintf("ERR SHARDACCEPT needs every shard to answer; nothing was admitted: %v", err))
	}
	s.log.Warn("shard admitted with its current data directory by SHARDACCEPT", "shard", id, "incarnation", m.own)
	s.probe(s.ctx, x)
	if st := x.status(); !st.Up {
		return resp.ErrText(fmt.Sprintf("ERR shard %s recorded as admitted, but it is still down: %s", id, st.Err))
	}
	return resp.OK
}
