# pragma version ~=0.4.3
"""
@title Mock reentrant ERC-20 (tests only)
@custom:contract-name MockReentrantToken
@license MIT
@notice A plain ERC-20 whose `transfer` and `transferFrom` call back into a target contract
        (the Arena) with calldata chosen by the test, after the balances moved: the shape
        of an ERC-777 hook or a malicious token. The reentry's outcome is recorded, not
        propagated, so a test sees both that the reentry failed and that the outer call
        went through. `execute` lets this contract act as an Arena user itself (join,
        claim, withdraw), so a reentrant `claim`/`withdraw` is a real double-spend attempt.
        Never deploy outside tests: anyone can mint.
"""

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event Reentry:
    target: indexed(address)
    success: bool
    returndata: Bytes[256]


name: public(constant(String[25])) = "Mock Reentrant Token"
symbol: public(constant(String[5])) = "MRT"
decimals: public(constant(uint8)) = 18

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)

# @notice Where the hook calls into and with what calldata; nothing while not armed.
target: public(address)
payload: public(Bytes[2048])
armed: public(bool)
# @notice Outcome of the hook's reentries.
attempts: public(uint256)
successes: public(uint256)
last_returndata: public(Bytes[256])
_in_hook: bool


@external
def mint(receiver: address, amount: uint256):
    """
    @notice Mint `amount` to `receiver` (anyone: test token).
    """
    self.balanceOf[receiver] += amount
    self.totalSupply += amount
    log Transfer(sender=empty(address), receiver=receiver, value=amount)


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def transfer(receiver: address, amount: uint256) -> bool:
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=msg.sender, receiver=receiver, value=amount)
    self._hook()
    return True


@external
def transferFrom(owner: address, receiver: address, amount: uint256) -> bool:
    if owner != self:
        self.allowance[owner][msg.sender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=owner, receiver=receiver, value=amount)
    self._hook()
    return True


@external
def burn(amount: uint256):
    """
    @notice Burn `amount` of the caller's tokens (Arena burns slashed delegated stake).
    """
    self.balanceOf[msg.sender] -= amount
    self.totalSupply -= amount
    log Transfer(sender=msg.sender, receiver=empty(address), value=amount)
    self._hook()


@external
def arm(target: address, payload: Bytes[2048]):
    """
    @notice Make every following transfer/transferFrom/burn call `target` with `payload`.
    """
    self.target = target
    self.payload = payload
    self.armed = True


@external
def disarm():
    self.armed = False


@external
def execute(target: address, data: Bytes[2048]) -> Bytes[256]:
    """
    @notice Call `target` as this contract (to join, claim or withdraw as an Arena user).
            Reverts with the callee's revert data if the call fails.
    """
    return raw_call(target, data, max_outsize=256)


@internal
def _hook():
    if not self.armed or self._in_hook:
        return
    self._in_hook = True
    ok: bool = False
    ret: Bytes[256] = b""
    ok, ret = raw_call(self.target, self.payload, max_outsize=256, revert_on_failure=False)
    self.attempts += 1
    if ok:
        self.successes += 1
    self.last_returndata = ret
    log Reentry(target=self.target, success=ok, returndata=ret)
    self._in_hook = False
