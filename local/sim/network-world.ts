// VPC networking in the simulated account: subnets and their network ACLs, security groups on network
// interfaces, public addresses, and connection tracking (which flows a change ends, which it cannot).
// EC2 instances (ec2-world.ts) are built on it.
import { SimAccount, SimAwsError } from "./account";
import type {
  SimConnection,
  SimInstance,
  SimNetworkAcl,
  SimNetworkInterface,
  SimRule,
  SimSecurityGroup,
  SimSubnet,
} from "./model";

/** Connection tracking timeouts EC2 gives a new interface (seconds). */
export const DEFAULT_CONNECTION_TRACKING = {
  tcpEstablishedTimeout: 432_000,
  udpStreamTimeout: 180,
  udpTimeout: 30,
};

/**
 * Limits of the idle timeouts, from ConnectionTrackingSpecificationRequest
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ConnectionTrackingSpecificationRequest.html).
 */
export const CONNECTION_TRACKING_LIMITS = {
  tcpEstablishedTimeout: [60, 432_000],
  udpStreamTimeout: [60, 180],
  udpTimeout: [30, 60],
} as const;

/** The address part of a peer "203.0.113.66:4444" or "[2001:db8::66]:4444". */
export function peerAddress(peer: string): string {
  const bracketed = /^\[([^\]]+)\]/.exec(peer);
  if (bracketed) return bracketed[1] as string;
  return peer.includes(":") && peer.split(":").length === 2 ? (peer.split(":")[0] as string) : peer;
}

const isIpv6 = (address: string) => address.includes(":");

function ipv4Number(address: string): number {
  return address.split(".").reduce((sum, part) => sum * 256 + Number(part), 0);
}

/** Whether a CIDR block contains an address (IPv6 blocks: ::/0 or one exact /128). */
export function cidrContains(cidr: string, address: string): boolean {
  const [block, bits = "32"] = cidr.split("/");
  if (isIpv6(cidr) !== isIpv6(address)) return false;
  if (isIpv6(cidr)) return cidr === "::/0" || block === address;
  const prefix = Number(bits);
  if (prefix === 0) return true;
  const mask = prefix === 32 ? 0xffffffff : ~((1 << (32 - prefix)) - 1) >>> 0;
  return (ipv4Number(block as string) & mask) >>> 0 === (ipv4Number(address) & mask) >>> 0;
}

const ANY_V4 = "0.0.0.0/0";
const ANY_V6 = "::/0";

/** Whether a rule lets a flow of `protocol` to `port` from/to `address` through. */
function ruleAllows(rule: SimRule, address: string, port: number, protocol: string): boolean {
  if (!cidrContains(rule.cidr, address)) return false;
  if (rule.protocol === "-1") return true;
  if (rule.protocol !== protocol) return false;
  if (protocol === "icmp") return true;
  return (rule.fromPort ?? 0) <= port && port <= (rule.toPort ?? 65_535);
}

/** Whether a rule allows every port of `protocol` from anywhere in the address family (an untracking rule). */
function allowsEverything(rule: SimRule, protocol: string, ipv6: boolean): boolean {
  if (rule.cidr !== (ipv6 ? ANY_V6 : ANY_V4)) return false;
  if (rule.protocol === "-1") return true;
  return rule.protocol === protocol && (rule.fromPort ?? 0) <= 0 && (rule.toPort ?? 0) >= 65_535;
}

/** Networking's behaviour; instances (ec2-world.ts) sit on it. */
export abstract class SimNetwork extends SimAccount {
  protected publicIpCounter = 10;
  protected ipv6Counter = 16;
  private readonly aclVerdicts = new Map<string, boolean>();

  /** Load balancers check an instance again after its network or state changed. */
  abstract wakeTargets(instanceId: string): void;

  // ---------------------------------------------------------------- subnets and network ACLs

  /** The VPC's default network ACL: it allows all traffic in and out (IPv4 and IPv6) until someone changes it. */
  defaultNetworkAcl(): SimNetworkAcl {
    const id = "acl-0d0000000000default";
    let acl = this.networkAcls.get(id);
    if (!acl) {
      acl = {
        networkAclId: id,
        vpcId: this.vpcId,
        isDefault: true,
        entries: [false, true].flatMap((egress) =>
          [ANY_V4, ANY_V6].map((cidr, index) => ({
            ruleNumber: 100 + index,
            egress,
            protocol: "-1",
            ruleAction: "allow" as const,
            cidr,
          })),
        ),
        tags: new Map(),
      };
      this.networkAcls.set(id, acl);
    }
    return acl;
  }

  /** The subnet of a zone (one per zone here), associated with the default network ACL when first seen. */
  subnetOf(availabilityZone: string): SimSubnet {
    const subnetId = `subnet-${availabilityZone.slice(-1)}0000000000000001`;
    let subnet = this.subnets.get(subnetId);
    if (!subnet) {
      subnet = {
        subnetId,
        vpcId: this.vpcId,
        availabilityZone,
        tags: new Map(),
        networkAclAssociation: {
          associationId: `aclassoc-${availabilityZone.slice(-1)}000000000000001`,
          networkAclId: this.defaultNetworkAcl().networkAclId,
        },
      };
      this.subnets.set(subnetId, subnet);
    }
    return subnet;
  }

  /**
   * Whether a subnet's network ACL lets a flow with `address` through in both directions. Network ACLs are
   * stateless: the reply needs a rule of its own, and rules are evaluated lowest number first, the implicit
   * last rule denying everything (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html).
   */
  networkAclAllows(subnetId: string, address: string, protocol = "tcp"): boolean {
    const subnet = this.subnets.get(subnetId);
    const acl = subnet ? this.networkAcls.get(subnet.networkAclAssociation.networkAclId) : undefined;
    if (!acl) return true;
    // Health checks ask this for every target at every interval: verdicts are kept until a rule changes.
    const key = `${acl.networkAclId}|${address}|${protocol}`;
    const known = this.aclVerdicts.get(key);
    if (known !== undefined) return known;
    const verdict = (egress: boolean) =>
      acl.entries
        .filter((entry) => entry.egress === egress)
        .sort((a, b) => a.ruleNumber - b.ruleNumber)
        .find(
          (entry) =>
            (entry.protocol === "-1" || entry.protocol === protocol) && cidrContains(entry.cidr, address),
        )?.ruleAction === "allow";
    const allowed = verdict(false) && verdict(true);
    this.aclVerdicts.set(key, allowed);
    return allowed;
  }

  /** Moves a subnet to another network ACL. Stateless rules apply to the next packet: flows they deny end at once. */
  replaceNetworkAclAssociation(associationId: string, networkAclId: string): string {
    const subnet = [...this.subnets.values()].find(
      (item) => item.networkAclAssociation.associationId === associationId,
    );
    if (!subnet)
      throw new SimAwsError(
        "InvalidAssociationID.NotFound",
        `The association ID '${associationId}' does not exist`,
      );
    const acl = this.networkAcls.get(networkAclId);
    if (!acl || acl.vpcId !== subnet.vpcId)
      throw new SimAwsError(
        "InvalidNetworkAclID.NotFound",
        `The network ACL '${networkAclId}' does not exist`,
      );
    subnet.networkAclAssociation = { associationId: this.newId("aclassoc"), networkAclId };
    this.record({
      kind: "network-acl-changed",
      message: `${subnet.subnetId} now uses network ACL ${networkAclId}`,
    });
    this.networkChanged((instance) => instance.subnetId === subnet.subnetId);
    return subnet.networkAclAssociation.associationId;
  }

  /** After any change to rules or associations: every affected instance's flows are judged again. */
  networkChanged(affects: (instance: SimInstance) => boolean = () => true): void {
    this.aclVerdicts.clear();
    for (const instance of this.instances.values()) {
      if (instance.state === "terminated" || !affects(instance)) continue;
      this.reviewConnections(instance);
      this.wakeTargets(instance.instanceId);
    }
  }

  // ---------------------------------------------------------------- security groups

  /** A security group other calls can see (not one still propagating after CreateSecurityGroup). */
  visibleSecurityGroup(groupId: string): SimSecurityGroup | undefined {
    const group = this.securityGroups.get(groupId);
    return group && (group.visibleAt ?? 0) <= this.clock.now() ? group : undefined;
  }

  /** The security group, or EC2's InvalidGroup.NotFound (also while a new group is still propagating). */
  requireSecurityGroup(groupId: string, vpcId?: string): SimSecurityGroup {
    const group = this.visibleSecurityGroup(groupId);
    if (!group || (vpcId && group.vpcId !== vpcId)) {
      throw new SimAwsError(
        "InvalidGroup.NotFound",
        `The security group '${groupId}' does not exist${vpcId ? ` in VPC '${vpcId}'` : ""}`,
      );
    }
    return group;
  }

  private rulesOf(groupIds: string[], direction: "ingress" | "egress"): SimRule[] {
    return groupIds.flatMap((id) => this.securityGroups.get(id)?.[direction] ?? []);
  }

  /**
   * Whether security groups untrack a flow: a rule allowing all of its traffic from anywhere (0.0.0.0/0, or
   * ::/0 for IPv6) both in and out. ICMP is always tracked, and so are flows through a NAT gateway, Network or
   * Gateway Load Balancer, Transit Gateway and the other services AWS lists as automatically tracked
   * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html).
   */
  untracks(groupIds: string[], connection: SimConnection): boolean {
    if (connection.protocol === "icmp" || connection.automaticallyTrackedBy) return false;
    const ipv6 = isIpv6(peerAddress(connection.peer));
    const open = (direction: "ingress" | "egress") =>
      this.rulesOf(groupIds, direction).some((rule) => allowsEverything(rule, connection.protocol, ipv6));
    return open("ingress") && open("egress");
  }

  /** Whether the groups let a flow start in its own direction (inbound: an ingress rule; outbound: egress). */
  allowsFlow(groupIds: string[], connection: SimConnection): boolean {
    const address = peerAddress(connection.peer);
    return this.rulesOf(groupIds, connection.direction === "inbound" ? "ingress" : "egress").some((rule) =>
      ruleAllows(rule, address, connection.port, connection.protocol),
    );
  }

  /** Whether the groups let every packet of an untracked flow through: rules in both directions. */
  allowsBothWays(groupIds: string[], connection: SimConnection): boolean {
    const address = peerAddress(connection.peer);
    return (["ingress", "egress"] as const).every((direction) =>
      this.rulesOf(groupIds, direction).some((rule) =>
        ruleAllows(rule, address, connection.port, connection.protocol),
      ),
    );
  }

  /**
   * Changes the security groups of a network interface, with EC2's connection tracking: a tracked flow goes
   * on after a change even if no rule allows it (until it idles out); a flow the groups do not track (all
   * traffic allowed both ways) ends at once when the new groups do not allow it. Moving to an all-traffic
   * group first untracks the flows that can be untracked, which is why isolation takes two steps.
   */
  setInterfaceGroups(instance: SimInstance, networkInterfaceId: string, groupIds: string[]): void {
    const eni = instance.networkInterfaces.find((item) => item.networkInterfaceId === networkInterfaceId);
    if (!eni) {
      throw new SimAwsError(
        "InvalidNetworkInterfaceID.NotFound",
        `The networkInterface ID '${networkInterfaceId}' does not exist`,
      );
    }
    for (const id of groupIds) this.requireSecurityGroup(id, instance.vpcId);
    eni.groups = [...groupIds];
    this.record({
      kind: "security-groups-changed",
      groupName: instance.groupName,
      instanceId: instance.instanceId,
      message: `${networkInterfaceId} of ${instance.instanceId} now in ${groupIds.map((id) => this.securityGroups.get(id)?.groupName ?? id).join(", ")}`,
    });
    this.reviewConnections(instance);
    this.wakeTargets(instance.instanceId);
  }

  /** Sets the idle timeouts of connection tracking on an interface; tracked flows are judged again. */
  setConnectionTracking(
    instance: SimInstance,
    eni: SimNetworkInterface,
    timeouts: Partial<SimNetworkInterface["connectionTracking"]>,
  ): void {
    for (const [name, value] of Object.entries(timeouts)) {
      const [min, max] = CONNECTION_TRACKING_LIMITS[name as keyof typeof CONNECTION_TRACKING_LIMITS];
      if (value === undefined) continue;
      if (!Number.isInteger(value) || value < min || value > max)
        throw new SimAwsError("InvalidParameterValue", `${name} must be between ${min} and ${max}`);
    }
    eni.connectionTracking = {
      ...eni.connectionTracking,
      ...Object.fromEntries(Object.entries(timeouts).filter(([, value]) => value !== undefined)),
    };
    this.reviewConnections(instance);
  }

  /** The idle timeout that applies to a flow on an interface (ICMP's is not configurable: not modelled). */
  private idleTimeout(eni: SimNetworkInterface, connection: SimConnection): number | undefined {
    if (connection.protocol === "tcp") return eni.connectionTracking.tcpEstablishedTimeout;
    if (connection.protocol === "udp") return eni.connectionTracking.udpStreamTimeout;
    return undefined;
  }

  private closeConnection(instance: SimInstance, connection: SimConnection, why: string): void {
    connection.open = false;
    connection.closedAt = this.clock.now();
    connection.closesAt = undefined;
    this.record({
      kind: "connection-closed",
      groupName: instance.groupName,
      instanceId: instance.instanceId,
      message: `${instance.instanceId}: connection ${connection.direction === "outbound" ? "to" : "from"} ${connection.peer} closed (${why})`,
    });
  }

  /**
   * Judges every open flow of an instance against its groups and its subnet's network ACL: a network ACL
   * that denies it ends it at once (stateless); an untracked flow ends when the groups no longer allow it
   * both ways; a tracked flow the groups no longer allow goes on while busy and ends once idle for longer
   * than the interface's idle timeout.
   */
  reviewConnections(instance: SimInstance): void {
    const eni = instance.networkInterfaces[0];
    if (!eni) return;
    for (const connection of instance.connections.filter((item) => item.open)) {
      if (!this.networkAclAllows(eni.subnetId, peerAddress(connection.peer), connection.protocol)) {
        this.closeConnection(instance, connection, "denied by the subnet's network ACL");
        continue;
      }
      if (this.untracks(eni.groups, connection)) {
        connection.tracked = false;
        connection.closesAt = undefined;
        continue;
      }
      if (!connection.tracked) {
        if (!this.allowsBothWays(eni.groups, connection)) {
          this.closeConnection(instance, connection, "untracked, and no rule allows it");
          continue;
        }
        connection.tracked = true;
      }
      if (this.allowsFlow(eni.groups, connection)) {
        connection.closesAt = undefined;
        continue;
      }
      const timeout = this.idleTimeout(eni, connection);
      if (
        connection.idleSeconds === undefined ||
        timeout === undefined ||
        connection.idleSeconds <= timeout
      ) {
        connection.closesAt = undefined;
        continue;
      }
      const closesAt = this.clock.now() + timeout * 1000;
      if (connection.closesAt !== undefined && connection.closesAt <= closesAt) continue;
      connection.closesAt = closesAt;
      this.clock.scheduleAt(closesAt, () => {
        if (connection.open && connection.closesAt === closesAt)
          this.closeConnection(instance, connection, `idle longer than the ${timeout}s tracking timeout`);
      });
    }
  }

  /** Whether health checks and clients reach the instance: a group lets something in, and the subnet's ACL too. */
  acceptsInbound(instance: SimInstance): boolean {
    const groups = instance.networkInterfaces.flatMap((eni) => eni.groups);
    const subnetOpen = instance.networkInterfaces.every((eni) =>
      this.networkAclAllows(eni.subnetId, "10.0.255.254"),
    );
    return (
      subnetOpen &&
      (groups.length === 0 || groups.some((id) => (this.securityGroups.get(id)?.ingress.length ?? 1) > 0))
    );
  }

  // ---------------------------------------------------------------- public addresses

  /** A public IPv4 address from Amazon's pool (deterministic, so seeds replay). */
  protected nextPublicIp(): string {
    const n = this.publicIpCounter++;
    return `54.${160 + Math.floor(n / 65_000)}.${Math.floor((n % 65_000) / 250)}.${(n % 250) + 4}`;
  }

  /** An IPv6 address of the VPC's block. */
  nextIpv6(): string {
    return `2600:1f18:4a2:${(this.ipv6Counter++).toString(16)}::${(this.ipv6Counter % 4000).toString(16)}`;
  }

  /**
   * The primary interface's Amazon public IPv4 address follows its AssociatePublicIpAddress attribute and its
   * Elastic IP: associating an Elastic IP releases the Amazon address, and disassociating it gives the
   * interface a new one when the attribute is on
   * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-instance-addressing.html#concepts-public-addresses).
   */
  settlePublicIp(instance: SimInstance, eni: SimNetworkInterface): void {
    const wanted = eni.deviceIndex === 0 && eni.assignPublicIp && !eni.association;
    if (wanted && !eni.publicIp) eni.publicIp = this.nextPublicIp();
    else if (!wanted && eni.publicIp) eni.publicIp = undefined;
    else return;
    this.record({
      kind: "public-address-changed",
      instanceId: instance.instanceId,
      message: `${eni.networkInterfaceId} of ${instance.instanceId}: public IPv4 ${eni.publicIp ?? "released"}`,
    });
  }

  // ---------------------------------------------------------------- reachability

  /**
   * What still connects an instance to anything, judged from the account alone: interfaces whose groups allow
   * traffic, public IPv4 addresses, open flows (with the automatically tracked ones and ICMP marked: no
   * security group change can end them), and the instance profile.
   */
  openPaths(instance: SimInstance): { path: string; residual: boolean }[] {
    const paths: { path: string; residual: boolean }[] = [];
    for (const eni of instance.networkInterfaces) {
      for (const id of eni.groups) {
        const group = this.securityGroups.get(id);
        if (group?.ingress.length)
          paths.push({
            path: `${eni.networkInterfaceId}: ${group.groupName} allows inbound traffic`,
            residual: false,
          });
        if (group?.egress.length)
          paths.push({
            path: `${eni.networkInterfaceId}: ${group.groupName} allows outbound traffic`,
            residual: false,
          });
      }
      const publicIp = eni.association?.publicIp ?? eni.publicIp;
      if (publicIp)
        paths.push({ path: `${eni.networkInterfaceId}: public IPv4 ${publicIp}`, residual: false });
    }
    for (const connection of instance.connections.filter((item) => item.open)) {
      const residual = connection.protocol === "icmp" || connection.automaticallyTrackedBy !== undefined;
      paths.push({
        path: `${connection.protocol} ${connection.direction === "outbound" ? "to" : "from"} ${connection.peer}${
          connection.automaticallyTrackedBy
            ? ` (automatically tracked: ${connection.automaticallyTrackedBy})`
            : ""
        }`,
        residual,
      });
    }
    if (instance.iamInstanceProfile)
      paths.push({ path: `instance profile ${instance.iamInstanceProfile.arn}`, residual: false });
    return paths;
  }
}
