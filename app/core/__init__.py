"""The primitives every layer uses: settings, money, ids, deadlines, networks. They
import nothing else of the gateway."""
