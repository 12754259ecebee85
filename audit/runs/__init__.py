"""The run folder and everything that reads or writes it, on top of the stages.

One audit end to end (:mod:`.workflow`), the folder's layout and stage cache
(:mod:`.layout`), the policy gate (:mod:`.policy`), the comparison of two runs
(:mod:`.compare`) and the report's inputs read from a finished folder
(:mod:`.report`). The stages, the report included, import nothing from here.
"""
