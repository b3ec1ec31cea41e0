"""Pictures of networks: `netdsl draw` (a graph of boxes, or the LeNet-5 figure's planes),
`netdsl compare` (the Canziani chart) and `netdsl features` (feature maps of one image).

Layouts are pure geometry (tested without drawing); matplotlib, on its Agg backend, is
imported only by the functions that make PNGs and charts, never by `netdsl check`.
"""
