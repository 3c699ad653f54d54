class PaymentDeclined(Exception):
    def __init__(self, amount, reason):
        super().__init__(f"{amount} declined: {reason}")
        self.amount = amount

def charge(amount, limit=100):
    if amount > limit:
        raise PaymentDeclined(amount, "over limit")
    print("charged", amount)

charge(50)
charge(500)
