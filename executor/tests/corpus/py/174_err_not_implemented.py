class Exporter:
    def export(self, data):
        raise NotImplementedError("subclasses must implement export")

class CsvExporter(Exporter):
    def export(self, data):
        return ",".join(map(str, data))

class PdfExporter(Exporter):
    pass

for e in [CsvExporter(), PdfExporter()]:
    print(e.export([1, 2, 3]))
