import Testing
@testable import Postgres

@Suite("PoolState: checkout, return, replace, wait")
struct PoolStateTests {
    typealias State = PoolState<String, String>

    @Test func createsUpToMaxSizeThenQueues() {
        var state = State(maxSize: 2)
        guard case .create = state.checkout(waiter: "a") else { Issue.record("expected create"); return }
        guard case .create = state.checkout(waiter: "b") else { Issue.record("expected create"); return }
        guard case .wait = state.checkout(waiter: "c") else { Issue.record("expected wait"); return }
        #expect(state.open == 2)
        #expect(state.waiterCount == 1)
    }

    @Test func returnedConnectionIsReusedWhenNobodyWaits() {
        var state = State(maxSize: 1)
        _ = state.checkout(waiter: "a")
        #expect(state.release("conn1") == nil)
        guard case .use(let conn) = state.checkout(waiter: "b") else { Issue.record("expected use"); return }
        #expect(conn == "conn1")
        #expect(state.open == 1)
    }

    @Test func returnedConnectionGoesToFirstWaiter() {
        var state = State(maxSize: 1)
        _ = state.checkout(waiter: "a")
        guard case .wait(let idB) = state.checkout(waiter: "b") else { Issue.record("expected wait"); return }
        guard case .wait(let idC) = state.checkout(waiter: "c") else { Issue.record("expected wait"); return }
        #expect(state.release("conn1") == "b")
        let grant = state.takeGrant(idB)
        guard case .connection(let conn)? = grant else { Issue.record("expected connection"); return }
        #expect(conn == "conn1")
        #expect(state.takeGrant(idC) == nil)
        #expect(state.idle.isEmpty)
    }

    @Test func discardedConnectionFreesSlotOrPassesItToWaiter() {
        var state = State(maxSize: 1)
        _ = state.checkout(waiter: "a")
        #expect(state.release(nil) == nil)
        #expect(state.open == 0)

        _ = state.checkout(waiter: "a")
        guard case .wait(let idB) = state.checkout(waiter: "b") else { Issue.record("expected wait"); return }
        #expect(state.release(nil) == "b")
        let grant = state.takeGrant(idB)
        guard case .slot? = grant else { Issue.record("expected slot"); return }
        #expect(state.open == 1, "the slot moved to the waiter, it was not freed")
    }

    @Test func abandonedWaiterIsSkipped() {
        var state = State(maxSize: 1)
        _ = state.checkout(waiter: "a")
        guard case .wait(let idB) = state.checkout(waiter: "b") else { Issue.record("expected wait"); return }
        guard case .wait = state.checkout(waiter: "c") else { Issue.record("expected wait"); return }
        #expect(state.abandon(idB) == nil)
        #expect(state.release("conn1") == "c")
    }

    @Test func abandonAfterGrantReturnsTheGrant() {
        var state = State(maxSize: 1)
        _ = state.checkout(waiter: "a")
        guard case .wait(let idB) = state.checkout(waiter: "b") else { Issue.record("expected wait"); return }
        _ = state.release("conn1")
        guard case .connection(let conn)? = state.abandon(idB) else { Issue.record("the raced grant was lost"); return }
        #expect(conn == "conn1")
    }

    @Test func closeHandsBackIdleConnectionsAndDropsLentOnesOnReturn() {
        var state = State(maxSize: 2)
        _ = state.checkout(waiter: "a")
        _ = state.checkout(waiter: "b")
        _ = state.release("conn1")
        let closed = state.close()
        #expect(closed.idle == ["conn1"])
        #expect(state.open == 1)
        #expect(state.release("conn2") == nil)
        #expect(state.open == 0)
        #expect(state.idle.isEmpty)
    }

    @Test func closedPoolDropsReturnedConnections() {
        var state = State(maxSize: 1)
        _ = state.checkout(waiter: "a")
        guard case .wait = state.checkout(waiter: "b") else { Issue.record("expected wait"); return }
        let closed = state.close()
        #expect(closed.waiters == ["b"])
        #expect(state.release("conn1") == nil)
        #expect(state.open == 0)
        guard case .closed = state.checkout(waiter: "c") else { Issue.record("expected closed"); return }
    }
}
