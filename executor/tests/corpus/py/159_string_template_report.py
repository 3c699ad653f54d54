from string import Template

tpl = Template("Dear $name,\nYour order #$order ships on $date.\nTotal: $$${total}\n")
orders = [("Ann", 1001, "May 3", "19.99"), ("Bob", 1002, "May 4", "5.00")]
for name, order, date, total in orders:
    print(tpl.substitute(name=name, order=order, date=date, total=total))
try:
    tpl.substitute(name="x")
except KeyError as e:
    print("missing key", e)
