class ListNode:
    def __init__(self, val, next=None):
        self.val = val
        self.next = next

def from_list(xs):
    head = None
    for x in reversed(xs):
        head = ListNode(x, head)
    return head

def to_list(head):
    out = []
    while head:
        out.append(head.val)
        head = head.next
    return out

def reverse(head):
    prev = None
    while head:
        head.next, prev, head = prev, head, head.next
    return prev

def merge(a, b):
    dummy = tail = ListNode(0)
    while a and b:
        if a.val <= b.val:
            tail.next, a = a, a.next
        else:
            tail.next, b = b, b.next
        tail = tail.next
    tail.next = a or b
    return dummy.next

print(to_list(reverse(from_list([1, 2, 3, 4]))))
print(to_list(merge(from_list([1, 4, 6]), from_list([2, 3, 7, 8]))))
print(to_list(reverse(None)))
