from decimal import Decimal
from dataclasses import dataclass, field
from typing import List

@dataclass
class Txn:
    kind: str
    amount: Decimal

@dataclass
class Ledger:
    owner: str
    txns: List[Txn] = field(default_factory=list)
    def add(self, kind, amount):
        self.txns.append(Txn(kind, Decimal(amount)))
    def balance(self):
        sign = {"credit": 1, "debit": -1}
        return sum((sign[t.kind] * t.amount for t in self.txns), Decimal("0"))

l = Ledger("ops")
for kind, amt in [("credit", "100.10"), ("debit", "20.05"), ("credit", "0.15"), ("debit", "80.20")]:
    l.add(kind, amt)
print(l.balance(), len(l.txns))
print(max(l.txns, key=lambda t: t.amount))
