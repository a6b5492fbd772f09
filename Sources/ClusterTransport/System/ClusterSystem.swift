import Distributed
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Starling's `DistributedActorSystem`: distributed actors across nodes over TLS 1.3, with cookie authentication,
/// static-seed membership, and keyed actors placed by weighted rendezvous hashing.
///
/// Who keeps an actor alive (there is no distributed garbage collection):
/// - **ephemeral** actors (`/e/<n>`, any actor created without a name) are held weakly: they live as long as local
///   code references them; a call after that fails with `actorNotFound`.
/// - **well-known** actors (`makeWellKnown(path:)`) are held by the system until `release(path:)`.
/// - **keyed** actors are held in the activation table from their first call until `passivate(key:)`.
public final class ClusterSystem: DistributedActorSystem, Sendable {
    public typealias ActorID = ClusterActorID
    public typealias SerializationRequirement = any Codable
    public typealias InvocationEncoder = ClusterInvocationEncoder
    public typealias InvocationDecoder = ClusterInvocationDecoder
    public typealias ResultHandler = ClusterResultHandler

    /// Creates the actor for a key on its owner, on the first call that reaches it.
    public typealias KeyedFactory = @Sendable (ActorKey, ClusterSystem) -> any DistributedActor

    public let settings: ClusterSystemSettings
    public let node: NodeID
    public let types = TypeRegistry()
    let logger: Logger
    let group: any EventLoopGroup
    let validator = TargetValidator()
    let pending = PendingCalls()
    let inboxes = InboxTable()
    let registry = Mutex(ActorRegistry())
    private let factories = Mutex<[Substring: KeyedFactory]>([:])
    /// Serialises activations so that a key is activated once; never held while the registry lock is.
    private let activation = Mutex<Void>(())
    private let nextEphemeral = Atomic<UInt64>(1)
    /// Calls re-routed after a `moved` answer (views of the membership differed for a moment).
    let reroutes = Atomic<Int>(0)
    let transport: ClusterTransportLayer

    @TaskLocal static var idHint: IDHint?

    /// Starts the system: binds the cluster listener and begins joining through the seeds.
    public init(settings: ClusterSystemSettings, logger: Logger = Logger(label: "starling.cluster")) async throws {
        self.settings = settings
        self.node = NodeID(name: settings.name, incarnation: .fresh())
        var logger = logger
        logger[metadataKey: "cluster/node"] = "\(settings.name)"
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup.singleton
        let box = SystemBox()
        self.transport = try await ClusterTransportLayer(settings: settings, node: node, logger: logger, box: box)
        box.set(self)
        transport.beginJoining(system: self)
    }

    /// The current membership view and its epoch.
    public var membership: MembershipSnapshot { transport.membership.snapshot }

    /// Membership events from now on; the stream ends at shutdown.
    public func membershipEvents() -> AsyncStream<MembershipEvent> { transport.membership.events() }

    /// Where this node's cluster listener is reachable.
    public var endpoint: Endpoint { transport.localEndpoint }

    /// Changes this member's weight (when given; finite, 0...`Member.maximumWeight`) and the services it announces
    /// (when given), and gossips the new record at once. Ownership follows the new weight everywhere as the record
    /// spreads. Returns false when nothing changed or a value was refused.
    @discardableResult
    public func updateLocalMember(weight: Double? = nil, services: [MemberService]? = nil) -> Bool {
        transport.updateLocal(weight: weight, services: services, system: self)
    }

    /// Leaves the cluster gracefully: peers learn that this node is leaving before its links close.
    public func leave() async {
        await transport.leave(system: self)
    }

    // MARK: Placement

    /// Registers the factory for keys of one kind (`session` for `session/<id>`).
    public func registerKeyed(kind: String, _ factory: @escaping KeyedFactory) {
        factories.withLock { $0[Substring(kind)] = factory }
    }

    /// Creates a node-owned actor at a fixed path, held by the system until `release(path:)`.
    public func makeWellKnown<Act: DistributedActor>(path: ActorPath, _ make: () throws -> Act) rethrows -> Act
    where Act.ID == ClusterActorID {
        let hint = IDHint(ClusterActorID(node: node, path: path))
        let actor = try Self.$idHint.withValue(hint) { try make() }
        registry.withLock { $0.retain(actor, as: actor.id) }
        return actor
    }

    public func release(path: ActorPath) {
        _ = registry.withLock { $0.release(ClusterActorID(node: node, path: path)) }
    }

    /// The ID of a well-known actor on a member, at that member's current incarnation.
    public func wellKnownID(path: ActorPath, on name: NodeName) -> ClusterActorID? {
        if name == node.name { return ClusterActorID(node: node, path: path) }
        return transport.membership.snapshot.member(named: name).map { ClusterActorID(node: $0.id, path: path) }
    }

    /// The well-known actor at `path` on the member named `name` (this node's own instance when `name` is this
    /// node), at that member's current incarnation. Throws `peerUnreachable` when `name` is not a member.
    public func wellKnown<Act: DistributedActor>(_ type: Act.Type, path: ActorPath, on name: NodeName) throws -> Act
    where Act.ID == ClusterActorID, Act.ActorSystem == ClusterSystem {
        guard let id = wellKnownID(path: path, on: name) else {
            throw RemoteCallError(.peerUnreachable, "\(name) is not a member")
        }
        return try Act.resolve(id: id, using: self)
    }

    /// The well-known actor at `path` on exactly this incarnation of a member. Throws `peerUnreachable` when the
    /// member's current incarnation is another one (or it is not a member).
    public func wellKnown<Act: DistributedActor>(_ type: Act.Type, path: ActorPath, on node: NodeID) throws -> Act
    where Act.ID == ClusterActorID, Act.ActorSystem == ClusterSystem {
        guard let id = wellKnownID(path: path, on: node.name), id.node == node else {
            throw RemoteCallError(.peerUnreachable, "\(node) is not a member")
        }
        return try Act.resolve(id: id, using: self)
    }

    /// The up brokers of the current view as ownership candidates (cached per view).
    public var ownershipCandidates: [OwnershipCandidate] { transport.membership.candidates }

    /// The key's owner by rendezvous hashing over the up brokers of the current view; nil when there is none.
    public func owner(of key: ActorKey) -> NodeName? {
        Ownership.primary(for: key.rawValue, among: transport.membership.candidates)
    }

    /// The local activation of a keyed actor, creating it when this node owns the key. Nil when another node owns
    /// it or no factory is registered for its kind.
    func activate(_ key: ActorKey) -> (any DistributedActor)? {
        let id = ClusterActorID(key: key)
        if let actor = registry.withLock({ $0.find(id) }) { return actor }
        guard let factory = factories.withLock({ $0[key.kind] }) else { return nil }
        return activation.withLock { _ in
            if let actor = registry.withLock({ $0.find(id) }) { return actor }
            let actor = Self.$idHint.withValue(IDHint(id)) { factory(key, self) }
            // A factory that created another actor first gave it the key's ID: serve nothing rather than the wrong actor.
            guard actor.id as? ClusterActorID == id else {
                logger.error("keyed factory returned an actor with another ID", metadata: ["cluster/key": "\(key)"])
                return nil
            }
            registry.withLock { $0.retain(actor, as: id) }
            return actor
        }
    }

    /// Drops the local activation of a key (after its state has been handed off or is no longer needed).
    public func passivate(key: ActorKey) {
        _ = registry.withLock { $0.release(ClusterActorID(key: key)) }
    }

    /// Whether the key is activated on this node.
    public func isActive(key: ActorKey) -> Bool {
        registry.withLock { $0.find(ClusterActorID(key: key)) != nil }
    }

    // MARK: DistributedActorSystem

    public func assignID<Act>(_ actorType: Act.Type) -> ClusterActorID where Act: DistributedActor, Act.ID == ActorID {
        if let id = Self.idHint?.take() { return id }
        let path = ActorPath("/e/\(nextEphemeral.add(1, ordering: .relaxed).oldValue)")!
        return ClusterActorID(node: node, path: path)
    }

    public func actorReady<Act>(_ actor: Act) where Act: DistributedActor, Act.ID == ActorID {
        registry.withLock { $0.ready(actor) }
    }

    public func resignID(_ id: ClusterActorID) {
        registry.withLock { $0.resign(id) }
    }

    public func resolve<Act>(id: ClusterActorID, as actorType: Act.Type) throws -> Act?
    where Act: DistributedActor, Act.ID == ActorID {
        guard case .owned(let owner, _) = id.address else { return nil }  // keyed: always through `remoteCall`
        guard owner.name == node.name else { return nil }
        guard owner == node else { throw RemoteCallError(.actorNotFound, "\(id): a previous incarnation of this node") }
        guard let actor = registry.withLock({ $0.find(id) }) else { throw RemoteCallError(.actorNotFound, "\(id)") }
        guard let typed = actor as? Act else {
            throw RemoteCallError(.targetRejected, "\(id) is not a \(Act.self)")
        }
        return typed
    }

    public func makeInvocationEncoder() -> ClusterInvocationEncoder {
        ClusterInvocationEncoder(types: types)
    }

    /// Stops listening, closes every link and fails every pending call with `shutDown`.
    public func shutdown() async {
        await transport.shutdown()
        pending.failAll(RemoteCallError(.shutDown))
    }
}

/// The ID an actor being created should take (a well-known path or a key). It is taken once, so an actor created
/// inside that actor's initialiser does not get the same ID.
final class IDHint: Sendable {
    private let id: ClusterActorID
    private let taken = Atomic<Bool>(false)

    init(_ id: ClusterActorID) { self.id = id }

    func take() -> ClusterActorID? {
        taken.exchange(true, ordering: .relaxed) ? nil : id
    }
}
